"""Issue 28 under real concurrency: the dashboards' counters lose no increment.

Ten decisions and ten cancellations of other grants of one département run at once, each in its
own session and transaction (the counters' rows of the département are shared by all of them:
its status, strand, kind, granted and monthly figures, its beneficiaries); afterwards every
counter of the département equals its recomputation from the dossiers and grants, and the
dashboard reads them.
"""

from __future__ import annotations

import asyncio
import uuid

from httpx import AsyncClient

from app.budgets.grants import cancel_grant, commit_grant
from app.core.concurrency import etag_for
from tests.api.stats.counting import counters_and_scratch
from tests.concurrency.conftest import DINUM, World, prefect_of

DEPARTEMENT = "16"


def _only(table: dict[tuple[object, ...], tuple[int, ...]]) -> dict[object, object]:
    return {key: values for key, values in table.items() if key[0] == DEPARTEMENT}


async def test_issue_28_concurrent_writes_keep_every_counter(
    world: World, http: AsyncClient
) -> None:
    dossiers, amount = 20, 100_000
    prefect = prefect_of(DEPARTEMENT)
    await world.open_envelope(DEPARTEMENT, dossiers * amount)
    ids = await world.dossiers_in_review(DEPARTEMENT, dossiers)
    cancelled, kept = ids[:10], ids[10:]

    async def commit(pid: uuid.UUID) -> None:
        async with world.sessionmaker() as session, session.begin():
            await commit_grant(session, prefect, project_id=pid, amount_cents=amount)

    async def cancel(pid: uuid.UUID) -> None:
        version = await world.project_version(pid)
        async with world.sessionmaker() as session, session.begin():
            await cancel_grant(
                session, prefect, project_id=pid, if_match=etag_for(version), reason="Abandon."
            )

    await asyncio.gather(*(commit(pid) for pid in cancelled))
    await asyncio.gather(*(cancel(pid) for pid in cancelled), *(commit(pid) for pid in kept))

    async with world.sessionmaker() as session:
        # one programme here: its counters added up over programmes (R-PROG-2 keys them)
        tables = await session.run_sync(
            lambda s: counters_and_scratch(s.connection(), by_programme=False)
        )
    (counters, scratch), (beneficiaries, scratch_b), (projects, scratch_p) = tables
    mine = _only(counters)
    assert mine == _only(scratch)
    # §5: a cancelled grant that paid nothing counts for nothing
    assert mine[(DEPARTEMENT, "granted_strand", "3c")] == (len(kept), len(kept) * amount)
    assert mine[(DEPARTEMENT, "status", "cancelled")] == (len(cancelled), 0)
    assert _only(beneficiaries) == _only(scratch_b) and len(_only(beneficiaries)) == len(kept)
    ours = {row for row in projects if row[1] == DEPARTEMENT}
    assert ours == {row for row in scratch_p if row[1] == DEPARTEMENT} and len(ours) == dossiers

    response = await http.get("/api/v1/stats/departements", headers=world.headers(DINUM))
    assert response.status_code == 200, response.text
    (figures,) = [i for i in response.json()["items"] if i["departement"] == DEPARTEMENT]
    assert (
        figures["committed_cents"]
        == len(kept) * amount
        == sum(s["granted_cents"] for s in figures["by_strand"])
    )
    assert figures["beneficiaries"] == len(kept)
