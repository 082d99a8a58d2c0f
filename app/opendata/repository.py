"""Queries of the open-data export: the rows (streamed) and their freshness (one aggregate)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Select, and_, case, cast, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from app.budgets.models import Convention, Envelope, Grant
from app.candidates.models import Candidate
from app.opendata.sql import due_summary
from app.programme.models import Programme
from app.projects.models import ExpenseLine, Project
from app.projects.rules import ExpenseCategory, Status, VendorOrigin

# Grants that never appear: cancelled ones (their project too: a cancelled project whose
# grant was settled earlier cannot exist, but the project's state is checked as well).
EXCLUDED_GRANT_STATUS = "cancelled"


@dataclass(frozen=True)
class ExportFilter:
    departement: str | None = None
    signed_from: date | None = None  # on the convention's date (SCDL dateConvention)
    signed_to: date | None = None


def _published(f: ExportFilter) -> list[ColumnElement[bool]]:
    """DOMAIN.md §5: an accepted grant with a signed convention, not cancelled."""
    clauses: list[ColumnElement[bool]] = [
        col(Grant.status) != EXCLUDED_GRANT_STATUS,
        col(Project.status) != Status.CANCELLED.value,
        col(Convention.id).is_not(None),
    ]
    if f.signed_from is not None:
        clauses.append(col(Convention.signed_on) >= f.signed_from)
    if f.signed_to is not None:
        clauses.append(col(Convention.signed_on) <= f.signed_to)
    return clauses


def _scope(stmt: Select[*tuple[Any, ...]], f: ExportFilter) -> Select[*tuple[Any, ...]]:
    stmt = (
        stmt.join(Project, col(Project.id) == col(Grant.project_id))
        .join(Envelope, col(Envelope.id) == col(Grant.envelope_id))
        .join(Candidate, col(Candidate.id) == col(Project.candidate_id))
    )
    if f.departement is not None:
        stmt = stmt.where(col(Envelope.departement) == f.departement)
    return stmt


def _line_sum(condition: ColumnElement[bool]) -> Any:
    """SUM of this dossier's expense lines that meet `condition`: a correlated subquery on
    `ix_expense_line_project_id`, so only the exported grants' lines are read (issue 13: a
    GROUP BY over every line of every dossier took 4 s at 200,000 dossiers).
    CAST: PostgreSQL's SUM(bigint) is numeric, whose division is not integral."""
    return func.coalesce(
        select(cast(func.sum(col(ExpenseLine.amount_cents)), BigInteger))
        .where(col(ExpenseLine.project_id) == col(Project.id), condition)
        .scalar_subquery(),
        0,
    )


def export_stmt(f: ExportFilter, *, eligible_cost: bool = True) -> Select[*tuple[Any, ...]]:
    """One row per published grant, in a stable order (convention date, then grant id).

    The eligible cost (the JSON's `tauxAide`) is read only when asked: the CSV has no use
    for it, and it is the one column that reads expense lines."""
    stmt: Select[*tuple[Any, ...]] = select(
        col(Envelope.prefecture_name),
        col(Envelope.prefecture_siret),
        col(Convention.signed_on),
        col(Grant.reference),
        col(Candidate.name),
        col(Candidate.siret),
        col(Project.title),
        col(Grant.amount_cents),
        due_summary(col(Convention.schedule)),
        col(Project.strand),
    ).select_from(Grant)
    stmt = _scope(stmt, f)
    stmt = stmt.join(Convention, col(Convention.project_id) == col(Grant.project_id))
    if eligible_cost:
        # R-EXCL-1/R-EXCL-2: the sums the eligible cost is computed from, in Python, by the
        # same rule as the dossier's report (app.opendata.rules.eligible_cost_cents).
        licence = and_(
            col(ExpenseLine.category) == ExpenseCategory.SOFTWARE_LICENCE.value,
            func.coalesce(col(ExpenseLine.vendor_origin), "") != VendorOrigin.EU.value,
        )
        other = and_(col(ExpenseLine.category) != ExpenseCategory.EQUIPMENT_AGENTS.value, ~licence)
        stmt = stmt.add_columns(
            _line_sum(other).label("other_cents"),
            _line_sum(licence).label("licence_cents"),
            col(Programme.extra_eu_licence_share_cap_bps),
        ).join(Programme, col(Programme.id) == col(Project.programme_id))
    return stmt.where(*_published(f)).order_by(col(Convention.signed_on), col(Grant.id))


def freshness_stmt(f: ExportFilter) -> Select[*tuple[Any, ...]]:
    """One aggregate over the filter's grants: how many are published, and the latest change
    of anything a row shows. Cancelled grants take part in the latest change (a cancellation
    bumps the grant's `updated_at`), so removing a row changes the validator too."""
    published = and_(*_published(f))
    stmt: Select[*tuple[Any, ...]] = select(
        func.count(case((published, 1))),
        func.max(col(Grant.updated_at)),
        func.max(col(Convention.created_at)),
        func.max(col(Project.updated_at)),
        func.max(col(Candidate.updated_at)),
        func.max(col(Envelope.updated_at)),
    ).select_from(Grant)
    stmt = _scope(stmt, f)
    return stmt.outerjoin(Convention, col(Convention.project_id) == col(Grant.project_id))
