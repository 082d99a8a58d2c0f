"""R-AUDIT-1 under real concurrency: the chain stays linear, one event per money movement.

Fifty top-ups at once on PostgreSQL, each in its own transaction, spread over ten envelopes (the
envelope's row lock serialises the movements of one envelope, not those of different ones):
every append locks the chain head as its last statement, so the chain verifies from end to end
and holds exactly as many envelope events as the ledger holds movements. Without the head's
lock, two commits take the same sequence number. (SQLite has one writer at a time: nothing to
race there.)
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from app.audit import service as audit_service
from app.audit.models import AuditEvent
from app.budgets import envelopes as envelopes_service
from app.budgets.models import Envelope, LedgerMovement
from app.budgets.rules import AllocationKind
from app.budgets.schemas import AllocationCreate
from app.programme.service import get_programme
from tests.concurrency.conftest import DINUM, World

MOVEMENTS = 50
DEPARTEMENTS = [str(code) for code in range(40, 50)]


async def top_up(world: World, departement: str, index: int) -> None:
    async with world.sessionmaker() as session, session.begin():
        programme = await get_programme(session, world.settings.programme_code)
        await envelopes_service.allocate(
            session,
            DINUM,
            programme=programme,
            departement=departement,
            data=AllocationCreate(
                kind=AllocationKind.TOP_UP,
                amount_cents=100 + index,
                reference=f"Abondement {index}",
            ),
        )


async def test_r_audit_1_concurrent_money_movements_leave_a_linear_chain(world: World) -> None:
    if not world.is_postgres:
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): the race needs PostgreSQL")
    envelopes = [await world.open_envelope(code, 1_000_000) for code in DEPARTEMENTS]
    results = await asyncio.gather(
        *(top_up(world, DEPARTEMENTS[i % len(DEPARTEMENTS)], i) for i in range(MOVEMENTS)),
        return_exceptions=True,
    )
    assert [r for r in results if r is not None] == []

    async with world.sessionmaker() as session, session.begin():
        verification = await audit_service.verify(session)
        assert verification.broken is None, verification.broken
        assert verification.state.verified_up_to == verification.head_seq
        events = (
            await session.execute(
                select(func.count()).where(
                    AuditEvent.object_type == "envelope",
                    AuditEvent.action != "created",  # the envelopes' opening, not a movement
                    col(AuditEvent.object_id).in_([str(e) for e in envelopes]),
                )
            )
        ).scalar_one()
        movements = (
            await session.execute(
                select(func.count()).where(col(LedgerMovement.envelope_id).in_(envelopes))
            )
        ).scalar_one()
        allocated = (
            await session.execute(
                select(func.sum(Envelope.allocated_cents)).where(col(Envelope.id).in_(envelopes))
            )
        ).scalar_one()
        seqs = (
            (await session.execute(select(AuditEvent.seq).order_by(col(AuditEvent.seq))))
            .scalars()
            .all()
        )
    assert movements == len(DEPARTEMENTS) + MOVEMENTS  # the openings and the fifty top-ups
    assert events == movements
    assert allocated == len(DEPARTEMENTS) * 1_000_000 + sum(100 + i for i in range(MOVEMENTS))
    assert list(seqs) == list(range(1, len(seqs) + 1))  # gap-free
