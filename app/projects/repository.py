"""Queries on projects; visibility is decided here, once (R-ACL-1)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, false
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlmodel import select

from app.auth.principal import Principal, Role
from app.candidates.models import Candidate
from app.projects.models import Project, ProjectTransition


def scope_projects(stmt: Select[Any], principal: Principal) -> Select[Any]:
    """Restrict a statement over Project to what the principal may see."""
    if principal.role is Role.CANDIDATE:
        owned = select(Candidate.id).where(Candidate.siren == principal.siren)
        return stmt.where(Project.candidate_id.in_(owned.scalar_subquery()))  # type: ignore[attr-defined]
    if principal.role is Role.PREFECT:
        return stmt.where(Project.departement == principal.departement)
    if principal.is_national:
        return stmt
    return stmt.where(false())


def visible_projects_stmt(principal: Principal) -> Select[Any]:
    return scope_projects(select(Project), principal)


async def get_visible_project(
    session: AsyncSession,
    principal: Principal,
    project_id: uuid.UUID,
    *,
    with_lines: bool = False,
    for_update: bool = False,
) -> Project | None:
    stmt = visible_projects_stmt(principal).where(Project.id == project_id)
    if with_lines:
        stmt = stmt.options(
            selectinload(Project.expense_lines),  # type: ignore[arg-type]
            selectinload(Project.funding_lines),  # type: ignore[arg-type]
        )
    if for_update:
        stmt = stmt.with_for_update(of=Project)  # type: ignore[arg-type]
    return (await session.execute(stmt)).scalar_one_or_none()


def summary_stmt(principal: Principal) -> Select[Any]:
    """Projects with their candidate's name: one statement per page, whatever its size."""
    stmt = select(Project, Candidate.name).join(Candidate, Candidate.id == Project.candidate_id)
    return scope_projects(stmt, principal)


async def list_transitions(session: AsyncSession, project_id: uuid.UUID) -> list[ProjectTransition]:
    stmt = (
        select(ProjectTransition)
        .where(ProjectTransition.project_id == project_id)
        .order_by(ProjectTransition.id)  # type: ignore[arg-type]
    )
    return list((await session.execute(stmt)).scalars().all())
