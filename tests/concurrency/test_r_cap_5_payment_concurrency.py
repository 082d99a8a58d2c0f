"""Payments under concurrency: never above the grant (R-CAP-5), the caps of R-PAY-2, and a
cancelled grant is never paid afterwards (its unpaid part went back to the envelope)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.budgets.errors import GrantRefused, PaymentRefused
from app.budgets.grants import cancel_grant
from app.budgets.payments import record_final_report, record_payment
from app.budgets.rules import PaymentKind
from app.budgets.schemas import FinalReportCreate, PaymentCreate
from app.core.concurrency import etag_for
from app.projects.errors import InvalidTransition
from app.projects.models import Project
from tests.concurrency.conftest import World, prefect_of, today

log = logging.getLogger("tests.concurrency")


async def _pay_concurrently(
    http: AsyncClient, world: World, departement: str, project_id: uuid.UUID, payments: list[Any]
) -> list[Any]:
    headers = world.headers(prefect_of(departement))
    return list(
        await asyncio.gather(
            *(
                http.post(f"/api/v1/projects/{project_id}/payments", json=body, headers=headers)
                for body in payments
            )
        )
    )


def _assert_refusals(responses: list[Any]) -> None:
    for response in responses:
        assert response.status_code in (201, 409), (response.status_code, response.text)
        if response.status_code == 409:
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["status"] == 409


async def test_r_pay_2_concurrent_instalments_never_pay_beyond_the_pre_final_cap(
    world: World, http: AsyncClient
) -> None:
    departement, grant, instalment, calls = "09", 100_000, 20_000, 10
    await world.open_envelope(departement, 1_000_000)
    (pid,) = await world.dossiers_in_review(departement, 1)
    await world.grant_under_convention(departement, pid, grant)

    body = {"kind": "instalment", "amount_cents": instalment, "paid_on": today().isoformat()}
    responses = await _pay_concurrently(http, world, departement, pid, [body] * calls)
    _assert_refusals(responses)
    statuses = [r.status_code for r in responses]
    log.info("R-PAY-2 instalments: %d × 201, %d × 409", statuses.count(201), statuses.count(409))

    expected = grant * 8 // 10 // instalment  # 80 % before the final report: 4
    assert statuses.count(201) == expected, statuses
    assert all(r.json()["code"] == "R-PAY-2" for r in responses if r.status_code == 409)
    figures = await world.figures(departement)
    figures.assert_reconciled()
    assert figures.paid == expected * instalment


async def test_r_cap_5_concurrent_balance_payments_pay_a_grant_off_once(
    world: World, http: AsyncClient
) -> None:
    departement, grant, advance, balance, calls = "10", 100_000, 30_000, 50_000, 6
    await world.open_envelope(departement, 1_000_000)
    (pid,) = await world.dossiers_in_review(departement, 1)
    await world.grant_under_convention(departement, pid, grant, advance)
    prefect = prefect_of(departement)
    etag = etag_for(await world.project_version(pid))
    async with world.sessionmaker() as session, session.begin():
        await record_final_report(
            session,
            prefect,
            project_id=pid,
            if_match=etag,
            data=FinalReportCreate(received_on=today(), summary="Service ouvert."),
        )

    body = {"kind": "balance", "amount_cents": balance, "paid_on": today().isoformat()}
    responses = await _pay_concurrently(http, world, departement, pid, [body] * calls)
    _assert_refusals(responses)
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 1, statuses

    figures = await world.figures(departement)
    figures.assert_reconciled()
    # Paid off once: 80 000 paid, the unpaid 20 000 released back to the envelope.
    assert figures.paid == figures.committed == advance + balance
    assert (await world.project_statuses([pid]))[pid] == "completed"


Late = Callable[[AsyncSession, Principal, uuid.UUID], Awaitable[object]]


async def _race_a_cancellation(world: World, departement: str, late: Late) -> object:
    """Cancel a grant under convention (100 000, advance 20 000) and, while the cancellation
    holds the grant row, start `late` in its own session; commit the cancellation, then return
    what `late` gave (its value, or the exception it raised)."""
    await world.open_envelope(departement, 1_000_000)
    target, other = await world.dossiers_in_review(departement, 2)
    await world.grant_under_convention(departement, target, 100_000, 20_000)
    # Another live grant in the same envelope: the envelope-wide guard (committed ≥ paid) has
    # headroom, so only a per-grant check can refuse what comes too late.
    await world.grant_under_convention(departement, other, 300_000)
    version = await world.project_version(target)
    prefect = prefect_of(departement)

    async def run_late() -> object:
        try:
            async with world.sessionmaker() as session, session.begin():
                return await late(session, prefect, target)
        except Exception as exc:  # the outcome is what the test looks at
            return exc

    async with world.sessionmaker() as session:
        async with session.begin():
            await cancel_grant(
                session, prefect, project_id=target, if_match=etag_for(version), reason="Abandon."
            )
            task = asyncio.create_task(run_late())
            # PostgreSQL: `late` reads the dossier (still under convention for it), then blocks
            # on the grant row. SQLite: it waits at BEGIN IMMEDIATE.
            await asyncio.sleep(0.3)
            assert not task.done()
        outcome = await task
    assert (await world.project_statuses([target]))[target] == "cancelled"
    return outcome


async def test_r_cap_5_a_payment_racing_a_cancellation_is_refused(world: World) -> None:
    """Once the cancellation commits, the grant's unpaid part is back in the envelope: a
    payment that was waiting for the grant must be refused, not recorded."""
    departement = "11"

    async def pay(session: AsyncSession, prefect: Principal, project_id: uuid.UUID) -> object:
        data = PaymentCreate(kind=PaymentKind.INSTALMENT, amount_cents=20_000, paid_on=today())
        return await record_payment(session, prefect, project_id=project_id, data=data)

    outcome = await _race_a_cancellation(world, departement, pay)
    assert isinstance(outcome, PaymentRefused), f"a cancelled grant was paid: {outcome!r}"
    assert outcome.code == "R-FLOW-1" and outcome.status == 409
    figures = await world.figures(departement)
    figures.assert_reconciled()
    assert figures.paid == 20_000
    assert figures.committed == 20_000 + 300_000  # the advance stays, 80 000 released


async def test_r_flow_1_a_final_report_racing_a_cancellation_is_refused(world: World) -> None:
    departement = "12"

    async def report(session: AsyncSession, prefect: Principal, project_id: uuid.UUID) -> object:
        data = FinalReportCreate(received_on=today(), summary="Service ouvert.")
        # R-FLOW-3: the ETag of the dossier as this session reads it (the client's read)
        etag = etag_for((await session.get_one(Project, project_id)).version)
        return await record_final_report(
            session, prefect, project_id=project_id, if_match=etag, data=data
        )

    outcome = await _race_a_cancellation(world, departement, report)
    # SQLite serialises: the dossier is already cancelled when read (InvalidTransition).
    # PostgreSQL: the grant, read after its lock, is cancelled (GrantRefused).
    assert isinstance(outcome, GrantRefused | InvalidTransition), (
        f"final report on a cancelled grant: {outcome!r}"
    )
    assert outcome.code == "R-FLOW-1" and outcome.status == 409
    (await world.figures(departement)).assert_reconciled()
