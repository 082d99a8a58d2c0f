"""Queries on candidates; visibility is decided here, once (R-ACL-1)."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, false
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.auth.principal import Principal, Role
from app.candidates.models import Candidate


def visible_candidates_stmt(principal: Principal) -> Select[Candidate]:
    """Candidates the principal may read: its own SIREN, its département, or all (national)."""
    stmt = select(Candidate)
    if principal.role is Role.CANDIDATE:
        return stmt.where(Candidate.siren == principal.siren)
    if principal.role is Role.PREFECT:
        return stmt.where(Candidate.departement == principal.departement)
    if principal.is_national:
        return stmt
    return stmt.where(false())


async def get_visible_candidate(
    session: AsyncSession,
    principal: Principal,
    candidate_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Candidate | None:
    stmt = visible_candidates_stmt(principal).where(col(Candidate.id) == candidate_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_by_siren(session: AsyncSession, siren: str) -> Candidate | None:
    stmt = select(Candidate).where(Candidate.siren == siren)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_by_territory(session: AsyncSession, territory: str) -> Candidate | None:
    stmt = select(Candidate).where(Candidate.territory == territory)
    return (await session.execute(stmt)).scalar_one_or_none()


async def verification_of(session: AsyncSession, candidate_id: uuid.UUID) -> str | None:
    """The candidate's R-REF-2 state, unscoped (the caller already reached its project)."""
    stmt = select(Candidate.verification).where(col(Candidate.id) == candidate_id)
    return (await session.execute(stmt)).scalar_one_or_none()
