"""Reading dossiers: one in scope, a page of them, their history, and what a caller sees of them.

R-ACL-1 (scope, through `repository`), R-EVAL-4 (candidates see no score), issue 13 (a read
in two statements, a page in one).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import Row, RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, Role
from app.core.rawsql import ReadConnection
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


class _Judged(NamedTuple):
    """What `actions_for` reads of a dossier besides its facts."""

    status: str
    strand: str


@dataclass(frozen=True, slots=True)
class ReadLine:
    """An expense line as the lean read path reads it (issue 28: no ORM object)."""

    id: uuid.UUID
    category: str
    label: str
    amount_cents: int
    vendor_origin: str | None
    provider_departement: str | None


@dataclass(frozen=True, slots=True)
class ReadFunding:
    """A line of other public funding, likewise (R-CAP-2)."""

    id: uuid.UUID
    funder: str
    amount_cents: int


@dataclass(frozen=True)
class ReadDossier:
    """What the eligibility report judges of a dossier, read on the lean read path (issue 28):
    the attributes of a loaded Project that its rules and the documents' check read."""

    id: uuid.UUID
    candidate_id: uuid.UUID
    programme_id: uuid.UUID
    departement: str
    strand: str
    status: str
    title: str
    description: str
    nature: str | None
    start_on: date | None
    end_on: date | None
    sponsor_name: str | None
    sponsor_role: str | None
    requested_cents: int
    expense_lines: tuple[ReadLine, ...]
    funding_lines: tuple[ReadFunding, ...]

    @classmethod
    def of(cls, row: RowMapping) -> ReadDossier:
        """From a row of `repository.read_dossier_row` (its lines as JSON: ids as text)."""
        return cls(
            id=row["id"],
            candidate_id=row["candidate_id"],
            programme_id=row["programme_id"],
            departement=row["departement"],
            strand=row["strand"],
            status=row["status"],
            title=row["title"],
            description=row["description"],
            nature=row["nature"],
            start_on=row["start_on"],
            end_on=row["end_on"],
            sponsor_name=row["sponsor_name"],
            sponsor_role=row["sponsor_role"],
            requested_cents=row["requested_cents"],
            expense_lines=tuple(
                ReadLine(**{**line, "id": uuid.UUID(line["id"])})
                for line in row["expense_lines"] or ()
            ),
            funding_lines=tuple(
                ReadFunding(**{**line, "id": uuid.UUID(line["id"])})
                for line in row["funding_lines"] or ()
            ),
        )


Dossier = Project | ReadDossier
"""A dossier as its rules read it: loaded by the ORM (writes) or read on the lean path."""


@dataclass(frozen=True)
class DossierRow:
    """A dossier as the lean read path reads it (issue 28): its row (`repository
    ._dossier_stmt`'s columns by name, its lines as JSON arrays), its programme and what the
    caller may do on it."""

    row: Row[Any]
    programme: Programme
    allowed_actions: list[ProjectAction]


async def read_dossier(
    connection: ReadConnection, principal: Principal, *, project_id: uuid.UUID
) -> DossierRow:
    """Issue 28: a dossier in scope (else ProjectNotFound, 404, R-ACL-1) with its lines, its
    candidate, the facts of its guarded actions and its programme's version, in one statement
    on a read's pooled connection; its programme from the per-process cache."""
    found = await repository.read_dossier_row(connection, principal, project_id)
    if found is None:
        raise ProjectNotFound()
    row = found._mapping
    programme = await programme_cache.programme_at_on(
        connection, row["programme_id"], row["programme_version"]
    )
    strand = row["strand"]
    advisors = terms.advisors(programme, strand)
    judged = _Judged(row["status"], strand)
    actions = actions_for(principal, judged, guards.facts_of(found, principal), advisors)
    return DossierRow(found, programme, actions)


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
