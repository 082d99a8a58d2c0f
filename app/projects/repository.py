"""Queries on projects; visibility is decided here, once (R-ACL-1)."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import Row, Select, false, select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload
from sqlmodel import col, select

from app.auth.principal import Principal, Role
from app.candidates.models import Candidate
from app.programme.models import Programme
from app.projects import guards
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


# Issue 13: the columns a summary shows, nothing else (no team JSON, no long texts, no ORM
# object per row): the list's one statement returns rows read by attribute.
SUMMARY_COLUMNS: tuple[Any, ...] = (
    Project.id,
    Project.candidate_id,
    Project.departement,
    Project.strand,
    Project.title,
    Project.nature,
    Project.status,
    Project.requested_cents,
    Project.total_cost_cents,
    Project.start_on,
    Project.end_on,
    Project.submitted_at,
    Project.returned_at,
    Project.evaluation_count,
    Project.mean_score_centi,
    Project.advisory_count,
    Project.advisory_mean_centi,
    Project.version,
    Project.created_at,
    Project.updated_at,
)


def summary_stmt(principal: Principal) -> Select[Any]:
    """Projects' summary columns with their candidate's name and the facts the caller's
    guarded actions hang on (issue 12, correlated EXISTS columns): one statement per page."""
    columns = (
        *SUMMARY_COLUMNS,
        col(Candidate.name).label("candidate_name"),
        *guards.fact_columns(principal),
    )
    stmt = sa_select(*columns).join(Candidate, col(Candidate.id) == Project.candidate_id)
    return scope_projects(stmt, principal)


async def read_visible_project(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID
) -> Row[*tuple[Any, ...]] | None:
    """Issue 13: a dossier in scope with its candidate's name, its expense lines (joined), its
    programme's version (to revalidate the cached programme) and the facts the caller's guarded
    actions hang on (issue 12: `guards.facts_of`), then its funding lines: two statements
    whatever the lines."""
    programme_version = (
        select(Programme.version).where(Programme.id == Project.programme_id).scalar_subquery()
    )
    stmt = (
        scope_projects(
            sa_select(
                Project, col(Candidate.name), programme_version, *guards.fact_columns(principal)
            ).join(Candidate, col(Candidate.id) == Project.candidate_id),
            principal,
        )
        .where(col(Project.id) == project_id)
        .options(
            joinedload(Project.expense_lines),  # type: ignore[arg-type]
            selectinload(Project.funding_lines),  # type: ignore[arg-type]
        )
    )
    row: Row[*tuple[Any, ...]] | None = (await session.execute(stmt)).unique().one_or_none()
    return row


async def list_transitions(session: AsyncSession, project_id: uuid.UUID) -> list[ProjectTransition]:
    stmt = (
        select(ProjectTransition)
        .where(ProjectTransition.project_id == project_id)
        .order_by(col(ProjectTransition.id))
    )
    return list((await session.execute(stmt)).scalars().all())
