"""Issue 22 point 6, R-EVAL-5 on a committee's agenda: the evaluations of a dossier's former
strand are out of the mean that orders the agenda (R-EVAL-3: unscored last)."""

from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from app.core import clock
from tests.api.budgets.driver import Money
from tests.api.committees.driver import Committees
from tests.api.evaluations.driver import Evaluations, body
from tests.api.evaluations.test_issue22_evaluations import in_review
from tests.conftest import Actors
from tests.support import file_required_documents

PROJECTS = "/api/v1/projects"


async def test_r_eval_5_void_evaluations_do_not_order_the_agenda(
    client: AsyncClient,
    headers,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    actors: Actors,
    money: Money,
    committees: Committees,
    marseille: Candidate,
) -> None:
    evals = Evaluations(client, headers)
    switched = await in_review(session, marseille, "3b")
    scored = await in_review(session, marseille, "3c")
    await evals.evaluate(actors.pref13, switched, body("3b", 5))  # 5.00 on the 3b grid
    await evals.evaluate(actors.pref13, scored, body("3c", 2))  # 2.00
    url = f"{PROJECTS}/{switched}"
    for who, action, json in (
        (actors.pref13, "return", {"message": "Ce projet relève du volet 3c."}),
        (actors.cand_a, None, {"strand": "3c"}),
        (actors.cand_a, "submit", None),
        (actors.pref13, "start-review", None),
    ):
        if action == "submit":  # R-DOC-1: the documents it asks for first
            await file_required_documents(client, headers(who), switched)
        etag = await money.etag(switched)
        if action is None:
            done = await client.patch(url, json=json, headers={**headers(who), "If-Match": etag})
        else:
            done = await client.post(
                f"{url}/{action}", json=json, headers={**headers(who), "If-Match": etag}
            )
        assert done.status_code == 200, done.text

    committee_id = await committees.new(meeting_on=clock.today().isoformat())
    added = await committees.agenda(committee_id, [switched, scored])
    assert added.status_code == 200, added.text
    agenda = (await committees.read(committee_id)).json()["agenda"]
    assert [(i["project_id"], i["evaluations"]["mean_weighted_total"]) for i in agenda] == [
        (str(scored), "2.00"),
        (str(switched), None),  # its 5.00 was on the 3b grid: void, unscored, last
    ]
