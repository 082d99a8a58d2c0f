"""Queries on projects; visibility is decided here, once (R-ACL-1)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    ColumnElement,
    Row,
    Select,
    String,
    Table,
    Uuid,
    bindparam,
    false,
    func,
    literal_column,
    select as sa_select,
    tuple_,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlmodel import col, select

from app.auth.principal import Principal, Role
from app.candidates.models import Candidate
from app.core import rawsql
from app.core.rawsql import ReadConnection
from app.core.types import UTCDateTime
from app.programme.models import DepartementForfaits, Programme
from app.projects import guards, hooks
from app.projects.models import ExpenseLine, FundingLine, Project, ProjectTransition

# A SELECT over Project, whatever its other columns: scope_projects keeps its type.
SelectT = TypeVar("SelectT", bound="Select[*tuple[Any, ...]]")


# R-ACL-1 in one place: who sees which dossiers. A scope is a kind and one value (the
# candidate's SIREN, the prefect's département); its clause takes the value as given (a
# literal) or as the bind parameter SCOPE (statements built once per kind, issue 13).
SCOPE = "scope_value"


def _scope(principal: Principal) -> tuple[str, str | None]:
    if principal.role is Role.CANDIDATE:
        return "candidate", principal.siren
    if principal.role is Role.PREFECT:
        return "prefect", principal.departement
    if principal.is_national:
        return "national", None
    return "none", None


def _scope_clause(kind: str, value: Any) -> ColumnElement[bool] | None:
    if kind == "candidate":
        owned = select(Candidate.id).where(Candidate.siren == value)
        return col(Project.candidate_id).in_(owned.scalar_subquery())
    if kind == "prefect":
        in_departement: ColumnElement[bool] = col(Project.departement) == value
        return in_departement
    if kind == "national":
        return None
    return false()


def scope_projects(stmt: SelectT, principal: Principal) -> SelectT:
    """Restrict a statement over Project to what the principal may see."""
    kind, value = _scope(principal)
    clause = _scope_clause(kind, value)
    return stmt if clause is None else stmt.where(clause)


def _scope_params(principal: Principal) -> dict[str, Any]:
    return {SCOPE: _scope(principal)[1]}


# Issue 28: the same scope for the lean reads of other modules (their Core statements take the
# clause on the bind parameter SCOPE), under public names; the clause stays written once.
scope_of = _scope  # (kind, value)
scope_clause = _scope_clause
scope_params = _scope_params


@cache
def _visible_project_stmt(kind: str, with_lines: bool, for_update: bool) -> Select[Project]:
    """One dossier by id (`project_id`) within a scope of this kind (`SCOPE`): built once per
    shape, executed with parameters (issue 13: building the ORM statement, its scope and its
    loader options took a fifth of a submission's CPU)."""
    stmt = select(Project).where(col(Project.id) == bindparam("project_id"))
    clause = _scope_clause(kind, bindparam(SCOPE, type_=String))
    if clause is not None:
        stmt = stmt.where(clause)
    if with_lines:
        stmt = stmt.options(
            selectinload(Project.expense_lines),  # type: ignore[arg-type]
            selectinload(Project.funding_lines),  # type: ignore[arg-type]
        )
    if for_update:
        stmt = stmt.with_for_update(of=Project)
    return stmt


async def get_visible_project(
    session: AsyncSession,
    principal: Principal,
    project_id: uuid.UUID,
    *,
    with_lines: bool = False,
    for_update: bool = False,
) -> Project | None:
    stmt = _visible_project_stmt(_scope(principal)[0], with_lines, for_update)
    params = {"project_id": project_id, **_scope_params(principal)}
    return (await session.execute(stmt, params)).scalar_one_or_none()


# Issue 13: the columns a summary shows, nothing else (no team JSON, no long texts, no ORM
# object per row): the list's one statement returns rows read by attribute.
SUMMARY_COLUMNS: tuple[Any, ...] = (
    Project.id,
    Project.candidate_id,
    Project.programme_id,  # R-EVAL-3: who advises on its strand is its programme's to say
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


# Their names, then the candidate's: how a list row reads by position (`summary_values`).
SUMMARY_NAMES: tuple[str, ...] = (*(c.key for c in SUMMARY_COLUMNS), "candidate_name")


# The list's filters: (name, condition on a bind parameter of that name). A page's statement
# holds the conditions of the filters it was given, in this order.
_FILTERS: dict[str, Any] = {
    "programme_id": lambda p: col(Project.programme_id) == p,
    "departement": lambda p: col(Project.departement) == p,
    "strand": lambda p: col(Project.strand) == p,
    "status": lambda p: col(Project.status) == p,
    "candidate_id": lambda p: col(Project.candidate_id) == p,
    "submitted_from": lambda p: col(Project.submitted_at) >= p,
    "submitted_to": lambda p: col(Project.submitted_at) <= p,
    "updated_since": lambda p: col(Project.updated_at) >= p,
}
FILTER_NAMES = tuple(_FILTERS)
AFTER_CREATED, AFTER_ID = "after_created_at", "after_id"


@lru_cache(maxsize=1024)
def _summary_stmt(
    kind: str,
    role: Role,
    _guards_generation: int,
    filters: tuple[str, ...],
    after: bool,
    limit: int,
) -> Select[Any]:
    """One list page: the summary's columns with the candidate's name and the facts the
    caller's guarded actions hang on (issue 12, correlated EXISTS columns), within a scope of
    this kind, under these filters, after a keyset cursor or not. Built once per shape and
    executed with parameters (issue 13: building it took a tenth of a page's CPU). The page
    size stays a literal: the planner then sees how few rows the keyset index range must give."""
    columns = (
        *SUMMARY_COLUMNS,
        col(Candidate.name).label("candidate_name"),
        *guards.role_fact_columns(role),
    )
    stmt = sa_select(*columns).join(Candidate, col(Candidate.id) == Project.candidate_id)
    clause = _scope_clause(kind, bindparam(SCOPE, type_=String))
    if clause is not None:
        stmt = stmt.where(clause)
    for name in filters:
        stmt = stmt.where(_FILTERS[name](bindparam(name)))
    if after:
        # The row comparison of `app.core.pagination.keyset_page` (one index range).
        stmt = stmt.where(
            tuple_(col(Project.created_at), col(Project.id))
            > tuple_(
                bindparam(AFTER_CREATED, type_=UTCDateTime(timezone=True)),
                bindparam(AFTER_ID, type_=Uuid()),
            )
        )
    return stmt.order_by(col(Project.created_at), col(Project.id)).limit(limit + 1)


async def summary_page(
    connection: ReadConnection,
    principal: Principal,
    filters: dict[str, Any],
    after: tuple[Any, Any] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """A page of dossiers in scope (R-ACL-1) matching `filters` (the FILTER_NAMES given, by
    value), after the keyset `after` (created_at, id), with one row more than `limit` when
    there are more: one Core statement on a read's connection (issue 28: no ORM session)."""
    names = tuple(name for name in FILTER_NAMES if name in filters)
    stmt = _summary_stmt(
        _scope(principal)[0], principal.role, guards.generation(), names, after is not None, limit
    )
    params = {**filters, **_scope_params(principal), **guards.fact_params(principal)}
    if after is not None:
        params[AFTER_CREATED], params[AFTER_ID] = after
    return await rawsql.fetch(connection, stmt, params)  # app/core/rawsql.py


# Issue 28: the dossier read on the lean read path (`app.auth.dependencies.read_access`): one Core
# statement, its lines aggregated as JSON arrays beside the dossier's row (no ORM loading, no
# second statement), built once per dialect, scope kind and role.
_PROJECT = Project.__table__  # type: ignore[attr-defined]
_NOT_READ = frozenset({"created_by", "ds_dossier_number", "ds_dossier_id"})
DOSSIER_COLUMNS: tuple[Any, ...] = tuple(c for c in _PROJECT.c if c.key not in _NOT_READ)
EXPENSE_FIELDS = (
    "id",
    "category",
    "label",
    "amount_cents",
    "vendor_origin",
    "provider_departement",
)
FUNDING_FIELDS = ("id", "funder", "amount_cents")


def _lines_json(dialect: str, table: Table, fields: tuple[str, ...]) -> ColumnElement[Any]:
    """A dossier's lines of `table`, in their order, as one JSON array of objects of `fields`
    (a correlated scalar subquery; NULL on PostgreSQL when there is none)."""

    def pairs_of(columns: Any) -> list[ColumnElement[Any]]:
        pairs: list[ColumnElement[Any]] = []
        for name in fields:
            pairs += (literal_column(f"'{name}'"), columns[name])
        return pairs

    if dialect == "postgresql":
        pairs = pairs_of(table.c)
        aggregate = func.json_agg(
            aggregate_order_by(func.json_build_object(*pairs), table.c.position)
        )
        found = sa_select(aggregate).where(table.c.project_id == _PROJECT.c.id)
    else:
        # SQLite (3.40: no ORDER BY inside an aggregate) aggregates its ordered subquery's rows
        # in their order.
        ordered = (
            sa_select(*(table.c[name] for name in fields))
            .where(table.c.project_id == _PROJECT.c.id)
            .order_by(table.c.position)
            .correlate(_PROJECT)
            .subquery()
        )
        json_rows = func.json_group_array(func.json_object(*pairs_of(ordered.c)))
        found = sa_select(json_rows).select_from(ordered)
    return type_coerce(found.scalar_subquery(), JSON)


def departement_forfaits() -> ColumnElement[Any]:
    """R-CAP-3: the dossier's département's own forfait schedule on its programme, as JSON
    (NULL: the programme's), a correlated scalar subquery beside the dossier's row."""
    forfaits = DepartementForfaits.__table__  # type: ignore[attr-defined]
    own_tiers = sa_select(forfaits.c.tiers).where(
        forfaits.c.programme_id == _PROJECT.c.programme_id,
        forfaits.c.departement == _PROJECT.c.departement,
    )
    return type_coerce(own_tiers.scalar_subquery(), JSON).label("departement_forfaits")


def _report_columns() -> list[Any]:
    """What the eligibility report reads beside the dossier (R-CAP-3): the candidate's
    population and EPCI type, which pick its forfait tier, and its département's own forfait
    schedule on the dossier's programme (NULL: the programme's)."""
    return [
        col(Candidate.population).label("candidate_population"),
        col(Candidate.epci_type).label("candidate_epci_type"),
        departement_forfaits(),
    ]


@cache
def _dossier_stmt(
    dialect: str,
    kind: str,
    role: Role,
    _guards_generation: int,
    report: bool,
    _requirements: tuple[str, ...],
) -> Select[Any]:
    """The dossier read's one statement: the dossier's columns, its candidate's name and kind,
    its programme's version (to revalidate the cached programme) and its expense and funding
    lines, within a scope of this kind (R-ACL-1, the clause of `_scope_clause`); with the facts
    the caller's guarded actions hang on (issue 12) for the dossier, with `_report_columns` and
    what the checks of its steps read (R-DOC-1: its documents, `hooks.requirement_fact_columns`)
    for its eligibility report: one statement, no snapshot to hold (issue 28)."""
    programme_version = (
        sa_select(Programme.version)  # type: ignore[call-overload]
        .where(Programme.id == _PROJECT.c.programme_id)
        .scalar_subquery()
    )
    stmt = sa_select(
        *DOSSIER_COLUMNS,
        col(Candidate.name).label("candidate_name"),
        col(Candidate.kind).label("candidate_kind"),
        programme_version.label("programme_version"),
        _lines_json(dialect, ExpenseLine.__table__, EXPENSE_FIELDS).label("expense_lines"),  # type: ignore[attr-defined]
        _lines_json(dialect, FundingLine.__table__, FUNDING_FIELDS).label("funding_lines"),  # type: ignore[attr-defined]
        *(
            [*_report_columns(), *hooks.requirement_fact_columns(dialect)]
            if report
            else guards.role_fact_columns(role)
        ),
    ).join(Candidate, col(Candidate.id) == _PROJECT.c.candidate_id)
    clause = _scope_clause(kind, bindparam(SCOPE, type_=String))
    if clause is not None:
        stmt = stmt.where(clause)
    return stmt.where(_PROJECT.c.id == bindparam("project_id", type_=Uuid()))


async def read_dossier_row(
    connection: ReadConnection,
    principal: Principal,
    project_id: uuid.UUID,
    *,
    report: bool = False,
) -> Row[Any] | None:
    """Issue 28: a dossier in scope (R-ACL-1) as one row of `_dossier_stmt`, on a read's
    pooled connection: one statement whatever its lines; None out of scope. `report`: the
    columns of its eligibility report instead of the facts of its actions."""
    kind, role = _scope(principal)[0], principal.role
    stmt = _dossier_stmt(
        connection.dialect.name,
        kind,
        role,
        guards.generation(),
        report,
        hooks.requirements_key() if report else (),
    )
    params = {"project_id": project_id, **_scope_params(principal)}
    if not report:
        params.update(guards.fact_params(principal))
    return await rawsql.fetchrow(connection, stmt, params)  # app/core/rawsql.py


async def list_transitions(session: AsyncSession, project_id: uuid.UUID) -> list[ProjectTransition]:
    stmt = (
        select(ProjectTransition)
        .where(ProjectTransition.project_id == project_id)
        .order_by(col(ProjectTransition.id))
    )
    return list((await session.execute(stmt)).scalars().all())
