"""Money movements: `move` is the one door money goes through (R-CAP-4, R-AUDIT-1).

Every money movement is one conditional UPDATE of the envelope (and, for payments, of the
locked grant row) plus one ledger row, in the caller's transaction. The guard of the UPDATE
is the invariant itself, so concurrent requests can never over-commit (R-CAP-4): on
PostgreSQL the row lock serialises the statements, on SQLite BEGIN IMMEDIATE does.
Allocations and transfers (`envelopes`), commitments and releases (`grants`) and payments
(`payments`) all move money through `move`; nothing else writes an envelope's amounts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audit import service as audit
from app.auth.principal import Principal
from app.budgets.errors import EnvelopeExhausted
from app.budgets.models import Envelope, LedgerMovement
from app.budgets.rules import MovementKind
from app.core.schemas import MAX_CENTS
from app.core.types import utcnow


@dataclass(frozen=True)
class Delta:
    allocated: int = 0
    committed: int = 0
    paid: int = 0


async def move(
    session: AsyncSession,
    principal: Principal,
    *,
    envelope_id: uuid.UUID,
    kind: MovementKind,
    delta: Delta,
    project_id: uuid.UUID | None = None,
    reference: str | None = None,
) -> LedgerMovement | None:
    """Apply `delta` to the envelope if allocated ≥ committed ≥ paid ≥ 0 still holds after it
    (and allocated stays within the contract's bound), and record the movement; None (nothing
    changed) when the guard refuses."""
    now = utcnow()  # one instant for the envelope and its movement (R-SYNC-1 filters)
    stmt = (
        update(Envelope)
        .where(
            col(Envelope.id) == envelope_id,
            col(Envelope.allocated_cents) + delta.allocated
            >= col(Envelope.committed_cents) + delta.committed,
            col(Envelope.committed_cents) + delta.committed
            >= col(Envelope.paid_cents) + delta.paid,
            col(Envelope.paid_cents) + delta.paid >= 0,
            col(Envelope.allocated_cents) + delta.allocated <= MAX_CENTS,
        )
        .values(
            allocated_cents=Envelope.allocated_cents + delta.allocated,
            committed_cents=Envelope.committed_cents + delta.committed,
            paid_cents=Envelope.paid_cents + delta.paid,
            version=Envelope.version + 1,
            updated_at=now,
        )
        .returning(
            col(Envelope.departement),
            col(Envelope.allocated_cents),
            col(Envelope.committed_cents),
            col(Envelope.paid_cents),
        )
        .execution_options(synchronize_session=False)
    )
    moved = (await session.execute(stmt)).first()
    if moved is None:
        return None
    departement, allocated, committed, paid = moved
    movement = LedgerMovement(
        envelope_id=envelope_id,
        kind=kind.value,
        allocated_delta_cents=delta.allocated,
        committed_delta_cents=delta.committed,
        paid_delta_cents=delta.paid,
        project_id=project_id,
        reference=reference,
        actor_subject=principal.subject,
        actor_role=principal.role.value,
        at=now,
    )
    session.add(movement)
    await session.flush()
    # R-AUDIT-1: every money movement is one audit event on its envelope (this function is
    # the single place money moves).
    await audit.record(
        session,
        principal,
        object_type="envelope",
        object_id=envelope_id,
        departement=departement,
        action=kind.value,
        before={
            "allocated_cents": allocated - delta.allocated,
            "committed_cents": committed - delta.committed,
            "paid_cents": paid - delta.paid,
        },
        after={
            "allocated_cents": allocated,
            "committed_cents": committed,
            "paid_cents": paid,
            "project_id": project_id,
            "reference": reference,
            "movement_id": movement.id,
        },
    )
    return movement


def exhausted(envelope: Envelope, detail: str) -> EnvelopeExhausted:
    """R-CAP-4 (409): what a refused `move` answers, with the envelope as it stands now."""
    return EnvelopeExhausted(
        detail,
        code="R-CAP-4",
        allocated_cents=envelope.allocated_cents,
        committed_cents=envelope.committed_cents,
        available_cents=envelope.allocated_cents - envelope.committed_cents,
    )


LEDGER_COLUMNS: tuple[Any, ...] = (
    LedgerMovement.id,
    LedgerMovement.kind,
    LedgerMovement.allocated_delta_cents,
    LedgerMovement.committed_delta_cents,
    LedgerMovement.paid_delta_cents,
    LedgerMovement.project_id,
    LedgerMovement.reference,
    LedgerMovement.actor_subject,
    LedgerMovement.actor_role,
    LedgerMovement.at,
)
# The fields of a movement as read (`MovementRead`), in LEDGER_COLUMNS' order: a ledger row
# reads by position (a Row's attribute access costs 0.7 µs, ten a row; issue 13). Only the
# actor's subject has another name as a field.
LEDGER_FIELDS: tuple[str, ...] = tuple(
    "actor" if c.key == "actor_subject" else c.key for c in LEDGER_COLUMNS
)
