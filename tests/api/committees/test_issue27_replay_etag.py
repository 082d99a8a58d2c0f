"""Issue 27: an idempotent replay of a committee's write carries the ETag the first answer
carried (the version its body shows), so that a client retrying after a lost answer can chain
its next If-Match write from the replay as from the first answer (R-FLOW-3)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from tests.api.committees.driver import Committees
from tests.api.committees.test_committees import dossier


async def test_a_replayed_decision_carries_the_first_answers_etag(
    committees: Committees,
    session: AsyncSession,
    marseille: Candidate,
    envelope_13: dict,  # type: ignore[type-arg]
) -> None:
    pid = await dossier(session, marseille, requested=1_000_000)
    committee_id = await committees.new()
    await committees.agenda(committee_id, [pid])
    first = await committees.decide(committee_id, pid, "accepted", 800_000, key="d-27")
    assert first.status_code == 200, first.text
    assert first.headers["ETag"] == await committees.etag(committee_id)

    replay = await committees.decide(committee_id, pid, "accepted", 800_000, key="d-27")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert replay.headers["ETag"] == first.headers["ETag"]
    # the ETag replayed is the one the client would have read: its next write goes through
    close = await committees.close(committee_id, etag=replay.headers["ETag"], key="c-27")
    assert close.status_code == 200, close.text
    again = await committees.close(committee_id, etag='"v1"', key="c-27")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["ETag"] == close.headers["ETag"]
