"""Submitting a dossier (R-FLOW-1, R-FLOW-2, R-FLOW-3), on a write path of few statements.

Issue 28: a burst of submissions on the deadline day spent most of its CPU in ORM work (the
dossier loaded with its lines into the identity map, a unit-of-work flush for one UPDATE, the
dossier and its candidate read again for the response and the notifications). Here the
dossier is read by one Core statement built once (its row, its lines as JSON arrays, its
candidate's name, kind, population and EPCI type, its programme's version, its département's
own forfaits and the caller's guard facts), held as a detached `Project` that the rules and
the response read as they read a loaded one, and written by one Core UPDATE guarded by its
version, with its history row in the same statement on PostgreSQL. The rules run as the
eligibility report runs them (`judge`, `forfait_of`, the documents' check); the audit event
(R-AUDIT-1) and the listeners follow as for every transition (`transitions.announced`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import (
    Row,
    Select,
    String,
    bindparam,
    insert,
    select as sa_select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import configure_mappers
from sqlalchemy.orm.attributes import instance_state, set_committed_value

from app.auth.principal import Principal, Role
from app.candidates.models import Candidate
from app.core import rawsql
from app.core.concurrency import check_if_match
from app.core.db import hold_rows
from app.core.errors import PreconditionFailed
from app.core.rules import raise_failures
from app.core.types import utcnow
from app.programme import cache as programme_cache
from app.programme.models import Programme
from app.programme.rules import Step
from app.projects import guards, hooks, repository, terms
from app.projects.actions import actions_for
from app.projects.assessment import forfait_of, judge, today_in_france
from app.projects.errors import ProjectIneligible, ProjectNotFound
from app.projects.lifecycle_rules import Action, ProjectAction, Status
from app.projects.models import ExpenseLine, FundingLine, Project, ProjectTransition
from app.projects.transitions import (
    INELIGIBLE,
    INSERT_STAMP,
    STAMP_COLUMNS,
    announced,
    check_transition,
    check_transition_for,
    stamp_values,
)

PROJECT = Project.__table__  # type: ignore[attr-defined]
CANDIDATE = Candidate.__table__  # type: ignore[attr-defined]
EXPENSE = ExpenseLine.__table__  # type: ignore[attr-defined]
FUNDING = FundingLine.__table__  # type: ignore[attr-defined]
PROJECT_COLUMNS = tuple(c.key for c in PROJECT.columns)
T = TypeVar("T")


# Its lines beside it, as JSON arrays in their order (`repository._lines_json`), with the
# columns the detached lines hold.
EXPENSE_FIELDS = (*repository.EXPENSE_FIELDS, "position")
FUNDING_FIELDS = (*repository.FUNDING_FIELDS, "position")


@cache
def _dossier_stmt(
    dialect: str,
    kind: str,
    role: Role,
    _guards_generation: int,
    _requirements: tuple[str, ...],
    _written: tuple[str, ...],
) -> Select[Any]:
    """The dossier in a scope of this kind (R-ACL-1: `repository`'s clause, bound as SCOPE),
    its lines, its candidate's name and kind, its programme's version, its département's own
    forfaits, the facts the caller's guarded actions hang on, what the checks of its steps
    read (R-DOC-1: its documents, `hooks.requirement_fact_columns`) and what the commit's
    listeners read (`hooks.written_fact_columns`: its notices' addresses, the webhooks'
    subscriptions): one statement, built once per dialect, scope kind, role, registry of
    guards, of requirement checks and of written facts."""
    programme_version = (
        sa_select(Programme.version)  # type: ignore[call-overload]
        .where(Programme.id == PROJECT.c.programme_id)
        .scalar_subquery()
    )
    stmt = sa_select(
        *PROJECT.columns,
        CANDIDATE.c.name.label("candidate_name"),
        CANDIDATE.c.kind.label("candidate_kind"),
        # R-CAP-3: what a strand's forfait is chosen by (`select_forfait`)
        CANDIDATE.c.population.label("candidate_population"),
        CANDIDATE.c.epci_type.label("candidate_epci_type"),
        repository.departement_forfaits(),
        programme_version.label("programme_version"),
        repository._lines_json(dialect, EXPENSE, EXPENSE_FIELDS).label("expense_lines"),
        repository._lines_json(dialect, FUNDING, FUNDING_FIELDS).label("funding_lines"),
        *guards.role_fact_columns(role),
        *hooks.requirement_fact_columns(dialect),
        *hooks.written_fact_columns(dialect),
    ).join(CANDIDATE, CANDIDATE.c.id == PROJECT.c.candidate_id)
    clause = repository._scope_clause(kind, bindparam(repository.SCOPE, type_=String))
    if clause is not None:
        stmt = stmt.where(clause)
    return stmt.where(PROJECT.c.id == bindparam("project_id"))


def _loaded(model: type[T], values: dict[str, Any]) -> T:
    """A detached instance of `model` holding `values` as its committed state, built as the
    ORM builds a loaded row's (its class manager's new instance, the values in its state's
    dict): a model's constructor (its defaults, its validation) cost 0.26 ms for a dossier."""
    manager = model._sa_class_manager  # type: ignore[attr-defined]
    if not manager.mapper.configured:  # configured at the first ORM statement, else here
        configure_mappers()  # (asking it costs a walk of every registry: 3 % of a submission)
    instance = manager.new_instance()
    instance_state(instance).dict.update(values)
    return instance  # type: ignore[no-any-return]


def _lines(model: type[T], project_id: uuid.UUID, found: list[dict[str, Any]] | None) -> list[T]:
    """Detached lines of `model` from the dossier's JSON array of them (ids as text)."""
    return [
        _loaded(model, {**line, "id": uuid.UUID(line["id"]), "project_id": project_id})
        for line in found or ()  # PostgreSQL's aggregate of no line: NULL
    ]


async def _read(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID
) -> tuple[Project, Row[Any]]:
    """The dossier in scope (else 404) as a detached Project with its lines, and its row."""
    kind = repository._scope(principal)[0]
    params = {
        "project_id": project_id,
        SCOPE_PARAM: repository._scope(principal)[1],
        **guards.fact_params(principal),
    }
    connection = await session.connection()
    stmt = _dossier_stmt(
        connection.dialect.name,
        kind,
        principal.role,
        guards.generation(),
        hooks.requirements_key(),
        hooks.written_key(),
    )
    row = await rawsql.fetchrow(connection, stmt, params)  # PostgreSQL: asyncpg's own (issue 28)
    if row is None:
        raise ProjectNotFound()
    project = _loaded(Project, dict(zip(PROJECT_COLUMNS, row, strict=False)))
    set_committed_value(
        project, "expense_lines", _lines(ExpenseLine, project_id, row.expense_lines)
    )
    set_committed_value(
        project, "funding_lines", _lines(FundingLine, project_id, row.funding_lines)
    )
    return project, row


SCOPE_PARAM = repository.SCOPE

# The submission's UPDATE: the columns it changes and the version that guards it (R-FLOW-3),
# as the ORM's versioned flush writes them, without the unit of work.
_SUBMIT = (
    update(PROJECT)
    .where(PROJECT.c.id == bindparam("p_id"), PROJECT.c.version == bindparam("p_version"))
    .values(
        status=bindparam("p_status"),
        submitted_at=bindparam("p_submitted_at"),
        status_message=None,
        updated_at=bindparam("p_updated_at"),
        version=bindparam("p_new_version"),
    )
)


# PostgreSQL: the UPDATE and the history row in one statement (a data-modifying WITH: the row
# is written only when the guarded UPDATE was, and the row it returns says whether it was), run
# on asyncpg's own connection (`app.core.rawsql`, issue 28).
HISTORY = ProjectTransition.__table__  # type: ignore[attr-defined]
_MOVED = _SUBMIT.returning(PROJECT.c.id).cte("moved")
_SUBMIT_STAMPED = (
    insert(HISTORY)
    .from_select(
        list(STAMP_COLUMNS),
        sa_select(
            _MOVED.c.id,
            *(bindparam(f"h_{name}", type_=HISTORY.c[name].type) for name in STAMP_COLUMNS[1:]),
        ),
    )
    .add_cte(_MOVED)
    .returning(HISTORY.c.project_id)
)


async def _write(session: AsyncSession, principal: Principal, project: Project) -> None:
    """`advance(…, Action.SUBMIT)` on a draft judged eligible: one Core UPDATE guarded by the
    version column (a concurrent change of the dossier is a 412, as the ORM's flush says it),
    with its history row in the same statement on PostgreSQL; the dossier then holds what was
    written."""
    before = Status(project.status)
    version = project.version
    values = {
        "status": check_transition(project, Action.SUBMIT).value,
        "submitted_at": utcnow(),
        "status_message": None,
        "updated_at": utcnow(),  # read after the submission's instant, as `advance` does
        "version": version + 1,
    }
    for name, value in values.items():
        set_committed_value(project, name, value)
    guarded = {
        "p_id": project.id,
        "p_version": version,
        "p_status": values["status"],
        "p_submitted_at": values["submitted_at"],
        "p_updated_at": values["updated_at"],
        "p_new_version": values["version"],
    }
    history = stamp_values(project, principal, Action.SUBMIT, before)
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        params = {**guarded, **{f"h_{k}": v for k, v in history.items() if k != "project_id"}}
        moved = await rawsql.fetchrow(connection, _SUBMIT_STAMPED, params) is not None
    else:
        moved = (await connection.execute(_SUBMIT, guarded)).rowcount == 1
        if moved:
            await connection.execute(INSERT_STAMP, history)
    if not moved:
        raise PreconditionFailed(code="R-FLOW-3")  # R-FLOW-3: changed since it was read
    hold_rows(session, PROJECT.name, [project.id])  # locked to the COMMIT: counted without a lock
    await announced(session, principal, project, before, Action.SUBMIT, None)


@dataclass(frozen=True)
class Submitted:
    """A dossier just submitted, with what its response shows beside it."""

    project: Project
    candidate_name: str
    allowed_actions: list[ProjectAction]
    programme_code: str


async def submit(
    session: AsyncSession, principal: Principal, *, project_id: uuid.UUID, if_match: str | None
) -> Submitted:
    """Submit a draft (R-FLOW-1): 404 out of scope (R-ACL-1), 428/412 without the current
    ETag (R-FLOW-3), 409 from another state, 422 listing every failed rule and missing
    document (R-FLOW-2, R-DOC-1). The programme's terms come from the per-process cache,
    revalidated by the version read with the dossier, and what the rules read of the candidate
    (its kind, R-ELIG-1; its population and EPCI type, R-CAP-3) with it too. A submission
    changes neither the candidate's name nor the guard facts: the response needs no
    statement of its own."""
    project, row = await _read(session, principal, project_id)
    check_if_match(if_match, project.version)
    await check_transition_for(session, principal, project, Action.SUBMIT)
    programme = await programme_cache.programme_at(
        session, project.programme_id, row.programme_version
    )
    forfait, tier = forfait_of(  # R-CAP-3: the forfait of its candidate's tier, if any
        programme,
        project.strand,
        row.departement_forfaits,
        kind=row.candidate_kind,
        population=row.candidate_population,
        epci_type=row.candidate_epci_type,
    )
    report = judge(project, programme, today_in_france(), row.candidate_kind, forfait, tier)
    # R-DOC-1: the documents it lacks, from what its row holds (`requirement_fact_columns`)
    missing = await hooks.step_failures(session, project, Step.SUBMISSION, facts=row._mapping)
    raise_failures(  # R-FLOW-2: the rules, and the documents it lacks (R-DOC-1)
        [*report.failures, *missing],
        error=ProjectIneligible,
        detail=INELIGIBLE,
    )
    await _write(session, principal, project)
    # What the commit's listeners read of it, read with it (its notices' addresses, R-NOTIF-1;
    # the subscriptions, R-HOOK-1): two round trips less at the commit (issue 28).
    hooks.written(session, project, row._mapping)
    # R-EVAL-3: who advises on the strand matters to an advising role's guards only.
    advising = principal.role.value in terms.ADVISING_ROLES
    advisors = terms.advisors(programme, project.strand) if advising else frozenset()
    actions = actions_for(principal, project, guards.facts_of(row, principal), advisors)
    return Submitted(project, str(row.candidate_name), actions, programme.code)
