"""Queries on envelopes; visibility decided here, once (R-ACL-1)."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, false
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.auth.principal import Principal, Role
from app.budgets.models import Envelope, Grant


def visible_envelopes_stmt(principal: Principal) -> Select[Envelope]:
    """Envelopes the principal may read: its département (prefect) or all (DINUM, ANCT)."""
    stmt = select(Envelope)
    if principal.role is Role.PREFECT:
        return stmt.where(Envelope.departement == principal.departement)
    if principal.is_national:
        return stmt
    return stmt.where(false())


async def envelope_for(
    session: AsyncSession, programme_id: uuid.UUID, departement: str, *, fresh: bool = False
) -> Envelope | None:
    stmt = select(Envelope).where(
        Envelope.programme_id == programme_id, Envelope.departement == departement
    )
    if fresh:
        stmt = stmt.execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def grant_for_update(session: AsyncSession, project_id: uuid.UUID) -> Grant | None:
    """The grant row, locked until the end of the transaction (a no-op on SQLite, where
    BEGIN IMMEDIATE already serialises writers)."""
    stmt = (
        select(Grant)
        .where(Grant.project_id == project_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()
