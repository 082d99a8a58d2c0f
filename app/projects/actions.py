"""What a caller may do now on a dossier (issue 12): the lifecycle table, then the guards.

`actions_for` judges one dossier by `lifecycle_rules.allowed_actions` and the guards that
higher domains registered (R-EVAL-2, R-EVAL-3, R-PAY-2); the other functions load the facts
it reads, for a page, a dossier just written, or an error path.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Row, select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.auth.principal import Principal
from app.candidates.models import Candidate
from app.programme.models import Programme
from app.projects import guards, repository, terms
from app.projects.lifecycle_rules import (
    GUARDED,
    ProjectAction,
    Status,
    allowed_actions,
)
from app.projects.models import Project


def actions_for(
    principal: Principal, project: Any, facts: Mapping[str, Any], advisors: frozenset[str]
) -> list[ProjectAction]:
    """What the caller may do now on this dossier (issue 12), by the rules that judge it: the
    lifecycle table (state, role), then the guards registered for the GUARDED actions
    (R-EVAL-2, R-EVAL-3, R-PAY-2), reading `facts` (`guards.fact_columns`, selected with the
    dossier) and who advises on its strand (`advisors`, the programme's, R-EVAL-3). `project`
    is a loaded Project or a row of its summary columns."""
    status = Status(project.status)
    table = allowed_actions(status, principal.role)
    if GUARDED.isdisjoint(table):
        return table
    dossier = guards.Dossier(status=status, strand=project.strand, facts=facts, advisors=advisors)
    return [
        action
        for action in table
        if action not in GUARDED or guards.permits(action, principal, dossier)
    ]


class _Judged(NamedTuple):
    """What `actions_for` reads of a dossier besides its facts."""

    status: str
    strand: str


Advisors = Mapping[tuple[uuid.UUID, str], frozenset[str]]
"""Who advises on each (programme, strand) of a page (R-EVAL-3), where it matters."""


async def page_advisors(
    session: AsyncSession, principal: Principal, rows: Sequence[Row[Any]]
) -> Advisors:
    """R-EVAL-3: who advises on the strands of a page's dossiers, read from their programmes.
    Only a caller of an advising role needs it (one statement then; none for the others)."""
    if principal.role.value not in terms.ADVISING_ROLES or not rows:
        return {}
    at = repository.SUMMARY_NAMES.index("programme_id")
    ids = sorted({row[at] for row in rows})
    stmt = select(Programme).where(col(Programme.id).in_(ids))
    programmes = (await session.execute(stmt)).scalars().all()
    return {
        (programme.id, str(strand["code"])): terms.advisors(programme, str(strand["code"]))
        for programme in programmes
        for strand in programme.strands
    }


def page_actions(
    principal: Principal, advisors: Advisors
) -> Callable[[Mapping[str, Any], Mapping[str, Any]], list[ProjectAction]]:
    """`actions_for` over a page of rows for one caller, judged once per distinct (state,
    programme, strand, facts): a page of 50 dossiers holds a handful of them (issue 13). The
    answer depends on nothing else (`guards.Dossier` is the state, the strand, its advisors
    and the facts). Each row is given as its `summary_values`."""
    judged: dict[tuple[Any, ...], list[ProjectAction]] = {}

    def actions(summary: Mapping[str, Any], facts: Mapping[str, Any]) -> list[ProjectAction]:
        status, strand = summary["status"], summary["strand"]
        advising = advisors.get((summary["programme_id"], strand), frozenset())
        key = (status, strand, advising, *facts.values())
        found = judged.get(key)
        if found is None:
            found = judged[key] = actions_for(principal, _Judged(status, strand), facts, advising)
        return found

    return actions


def _facts_stmt(principal: Principal, project_id: uuid.UUID, *columns: Any) -> Any:
    return (
        sa_select(*columns, *guards.fact_columns(principal))
        .select_from(Project)
        .where(col(Project.id) == project_id)
    )


async def advisors_for(
    session: AsyncSession, principal: Principal, project: Project
) -> frozenset[str]:
    """R-EVAL-3: who advises on a loaded dossier's strand, read from its programme; only a
    caller of an advising role needs it (a statement then, none for the others)."""
    if principal.role.value not in terms.ADVISING_ROLES:
        return frozenset()
    programme = await session.get_one(Programme, project.programme_id)
    return terms.advisors(programme, project.strand)


async def actions_now(
    session: AsyncSession, principal: Principal, project: Project
) -> list[ProjectAction]:
    """`actions_for` a dossier loaded without its facts (an error path, issue 12): one
    statement reads them, none when the table offers the caller no guarded action."""
    facts: dict[str, Any] = {}
    if guards.needs_facts(principal, allowed_actions(Status(project.status), principal.role)):
        row = (await session.execute(_facts_stmt(principal, project.id))).one()
        facts = guards.facts_of(row, principal)
    advisors = await advisors_for(session, principal, project)
    return actions_for(principal, project, facts, advisors)


async def name_and_actions(
    session: AsyncSession, principal: Principal, project: Project
) -> tuple[str, list[ProjectAction]]:
    """The candidate's name of a dossier just written and what the caller may do on it now:
    one statement (the name and the guards' facts together)."""
    stmt = _facts_stmt(principal, project.id, col(Candidate.name)).join(
        Candidate, col(Candidate.id) == Project.candidate_id
    )
    row = (await session.execute(stmt)).one()
    advisors = await advisors_for(session, principal, project)
    return str(row[0]), actions_for(principal, project, guards.facts_of(row, principal), advisors)
