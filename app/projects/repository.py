"""Queries on projects; visibility is decided here, once (R-ACL-1)."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import Select, false
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlmodel import col, select

from app.auth.principal import Principal, Role
from app.candidates.models import Candidate
from app.projects.models import Project, ProjectTransition

# A SELECT over Project, whatever its other columns: scope_projects keeps its type.
SelectT = TypeVar("SelectT", bound="Select[*tuple[Any, ...]]")


def scope_projects(stmt: SelectT, principal: Principal) -> SelectT:
    """Restrict a statement over Project to what the principal may see."""
    if principal.role is Role.CANDIDATE:
        owned = select(Candidate.id).where(Candidate.siren == principal.siren)
        return stmt.where(col(Project.candidate_id).in_(owned.scalar_subquery()))
    if principal.role is Role.PREFECT:
        return stmt.where(col(Project.departement) == principal.departement)
    if principal.is_national:
        return stmt
    return stmt.where(false())


def visible_projects_stmt(principal: Principal) -> Select[Project]:
    return scope_projects(select(Project), principal)


async def get_visible_project(
    session: AsyncSession,
    principal: Principal,
    project_id: uuid.UUID,
    *,
    with_lines: bool = False,
    for_update: bool = False,
) -> Project | None:
    stmt = visible_projects_stmt(principal).where(col(Project.id) == project_id)
    if with_lines:
        stmt = stmt.options(
            selectinload(Project.expense_lines),  # type: ignore[arg-type]
            selectinload(Project.funding_lines),  # type: ignore[arg-type]
        )
    if for_update:
        stmt = stmt.with_for_update(of=Project)
    return (await session.execute(stmt)).scalar_one_or_none()


def summary_stmt(principal: Principal) -> Select[Project, str]:
    """Projects with their candidate's name: one statement per page, whatever its size."""
    stmt = select(Project, Candidate.name).join(
        Candidate, col(Candidate.id) == Project.candidate_id
    )
    return scope_projects(stmt, principal)


async def list_transitions(session: AsyncSession, project_id: uuid.UUID) -> list[ProjectTransition]:
    stmt = (
        select(ProjectTransition)
        .where(ProjectTransition.project_id == project_id)
        .order_by(col(ProjectTransition.id))
    )
    return list((await session.execute(stmt)).scalars().all())
