"""R-CAP-5 under concurrency: a cancellation racing the balance payment of the same grant.

Each round: a grant of 1 000 €, 300 € paid in advance, the final report recorded. The balance
(500 €) settles the grant and releases its unpaid 200 €; a cancellation sent with the ETag read
before the balance (still valid when it is checked) waits on the grant's lock. Once it gets the
lock the grant is closed: the cancellation must be refused (409, or 412 where the database
serialised it after the balance), never answer 500 nor release the 200 € a second time.
The first rounds run with no spare room in the envelope (every other grant fully paid: the
second release would break committed ≥ paid), the later ones with an unpaid grant beside it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from httpx import AsyncClient
from sqlalchemy import func, select

from app.budgets.models import Grant, LedgerMovement
from app.budgets.payments import record_final_report, record_payment
from app.budgets.rules import PaymentKind
from app.budgets.schemas import FinalReportCreate, PaymentCreate
from app.core.concurrency import etag_for
from tests.concurrency.conftest import World, prefect_of, today

log = logging.getLogger("tests.concurrency")

ROUNDS = 50
GRANT, ADVANCE, BALANCE = 100_000, 30_000, 50_000  # 1 000 €, 300 €, 500 €
UNPAID = GRANT - ADVANCE - BALANCE  # 200 € released when the balance settles the grant


async def _released(world: World, project_id: uuid.UUID) -> tuple[int, int, str]:
    """(sum of the grant's decommitments in the ledger, their count, the grant's status)."""
    async with world.sessionmaker() as session, session.begin():
        total, moves = (
            await session.execute(
                select(
                    func.coalesce(func.sum(LedgerMovement.committed_delta_cents), 0),
                    func.count(),
                ).where(
                    LedgerMovement.project_id == project_id,
                    LedgerMovement.kind == "decommitment",
                )
            )
        ).one()
        status = (
            await session.execute(select(Grant.status).where(Grant.project_id == project_id))
        ).scalar_one()
        return -int(total), int(moves), str(status)


async def test_r_cap_5_a_cancel_racing_the_balance_releases_the_unpaid_part_once(
    world: World, http: AsyncClient
) -> None:
    departement = "30"
    prefect = prefect_of(departement)
    await world.open_envelope(departement, 100 * GRANT)
    *rounds, spare = await world.dossiers_in_review(departement, ROUNDS + 1)
    outcomes: dict[int, int] = {}
    for number, project_id in enumerate(rounds):
        if number == ROUNDS // 2:  # from now on, spare room: an unpaid grant beside
            await world.grant_under_convention(departement, spare, GRANT)
        await world.grant_under_convention(departement, project_id, GRANT, ADVANCE)
        reported = etag_for(await world.project_version(project_id))
        async with world.sessionmaker() as session, session.begin():
            await record_final_report(
                session,
                prefect,
                project_id=project_id,
                if_match=reported,
                data=FinalReportCreate(received_on=today(), summary="Service ouvert."),
            )
        etag = etag_for(await world.project_version(project_id))

        async with world.sessionmaker() as session:
            async with session.begin():
                # The balance holds the grant's row (PostgreSQL) or the database (SQLite)...
                await record_payment(
                    session,
                    prefect,
                    project_id=project_id,
                    data=PaymentCreate(
                        kind=PaymentKind.BALANCE, amount_cents=BALANCE, paid_on=today()
                    ),
                )
                # ...while the cancellation, with the ETag read before it, reads the dossier
                # (PostgreSQL: still under convention for it) and waits on the grant's lock.
                cancel = asyncio.create_task(
                    http.post(
                        f"/api/v1/projects/{project_id}/cancel",
                        json={"reason": "Abandon."},
                        headers={**world.headers(prefect), "If-Match": etag},
                    )
                )
                await asyncio.sleep(0.1)
                assert not cancel.done()
            response = await cancel

        assert response.status_code in (409, 412), (number, response.status_code, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        if response.status_code == 409:
            assert response.json()["code"] == "R-FLOW-1", response.text
        outcomes[response.status_code] = outcomes.get(response.status_code, 0) + 1
        # the unpaid part released exactly once, by the balance
        assert await _released(world, project_id) == (UNPAID, 1, "closed"), number
        assert (await world.project_statuses([project_id]))[project_id] == "completed"
        figures = await world.figures(departement)
        figures.assert_reconciled()  # envelope figures = ledger sums = grants, every round
        assert figures.paid == (number + 1) * (ADVANCE + BALANCE)
    log.info("R-CAP-5 cancel vs balance: %s", outcomes)
    if world.is_postgres:  # mostly, the cancellation got past If-Match and waited on the lock
        assert outcomes.get(409, 0) >= ROUNDS // 2, outcomes
