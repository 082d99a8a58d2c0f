"""Reading dossiers: one in scope, a page of them, their history, and what a caller sees of them.

R-ACL-1 (scope, through `repository`), R-EVAL-4 (candidates see no score), issue 13 (a read
in two statements, a page in one).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, Role
from app.programme import cache as programme_cache
from app.programme.models import Programme
from app.projects import guards, repository, terms
from app.projects.actions import actions_for
from app.projects.errors import (
    ProjectNotFound,
)
from app.projects.lifecycle_rules import (
    ProjectAction,
    Status,
)
from app.projects.models import Project, ProjectTransition


@dataclass(frozen=True)
class ProjectFilters:
    programme_id: uuid.UUID | None = None  # R-PROG-2
    departement: str | None = None
    strand: str | None = None
    status: Status | None = None
    candidate_id: uuid.UUID | None = None
    submitted_from: datetime | None = None
    submitted_to: datetime | None = None
    updated_since: datetime | None = None


async def get_project(
    session: AsyncSession, principal: Principal, *, project_id: uuid.UUID, with_lines: bool = True
) -> Project:
    """A dossier in the principal's scope, else ProjectNotFound (404, R-ACL-1)."""
    project = await repository.get_visible_project(
        session, principal, project_id, with_lines=with_lines
    )
    if project is None:
        raise ProjectNotFound()
    return project


@dataclass(frozen=True)
class ProjectView:
    """A dossier as read: its candidate's name, its programme and what the caller may do."""

    project: Project
    candidate_name: str
    programme: Programme
    allowed_actions: list[ProjectAction]
    candidate_kind: str


async def read_project(
    session: AsyncSession, principal: Principal, *, project_id: uuid.UUID
) -> ProjectView:
    """Issue 13: a dossier in scope with its lines, its candidate's name, the facts its guarded
    actions hang on (issue 12) and its programme (from the per-process cache, revalidated by the
    version read beside it): two statements."""
    row = await repository.read_visible_project(session, principal, project_id)
    if row is None:
        raise ProjectNotFound()
    project, name, programme_version = row[0], row[1], row[2]
    programme = await programme_cache.programme_at(session, project.programme_id, programme_version)
    advisors = terms.advisors(programme, project.strand)
    actions = actions_for(principal, project, guards.facts_of(row, principal), advisors)
    return ProjectView(project, str(name), programme, actions, str(row[3]))


async def history(
    session: AsyncSession, principal: Principal, *, project_id: uuid.UUID
) -> list[ProjectTransition]:
    """Every transition of a dossier in scope, oldest first."""
    await get_project(session, principal, project_id=project_id, with_lines=False)
    return await repository.list_transitions(session, project_id)


def hides_state_agents(principal: Principal) -> bool:
    """Candidates see which role acted on their dossier, not which State agent."""
    return principal.role is Role.CANDIDATE


def shows_scores(principal: Principal) -> bool:
    """R-EVAL-4: candidates never see an evaluation, a count or a score of their dossiers."""
    return principal.role is not Role.CANDIDATE
