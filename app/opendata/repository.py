"""Queries of the open-data export: the rows (streamed) and their freshness (one aggregate)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from app.budgets.models import Convention, Envelope, Grant, net_amount
from app.candidates.models import Candidate
from app.opendata.sql import due_summary
from app.projects.models import Project


@dataclass(frozen=True)
class ExportFilter:
    departement: str | None = None
    signed_from: date | None = None  # on the convention's date (SCDL dateConvention)
    signed_to: date | None = None


def _published(f: ExportFilter) -> list[ColumnElement[bool]]:
    """DOMAIN.md §5: an accepted grant with a signed convention whose net amount is positive:
    a cancelled grant appears only if it paid something (its net amount is what it paid)."""
    clauses: list[ColumnElement[bool]] = [
        net_amount() > 0,
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


def export_stmt(f: ExportFilter) -> Select[*tuple[Any, ...]]:
    """One row per published grant, in a stable order (convention date, then grant id): its
    net amount (§5) and the eligible cost frozen at its decision (R-PAY-4, the JSON's
    `tauxAide`)."""
    stmt: Select[*tuple[Any, ...]] = select(
        col(Envelope.prefecture_name),
        col(Envelope.prefecture_siret),
        col(Convention.signed_on),
        col(Grant.reference),
        col(Candidate.name),
        col(Candidate.siret),
        col(Project.title),
        net_amount(),
        due_summary(col(Convention.schedule)),
        col(Project.strand),
        col(Grant.eligible_cost_cents),
    ).select_from(Grant)
    stmt = _scope(stmt, f)
    stmt = stmt.join(Convention, col(Convention.project_id) == col(Grant.project_id))
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
