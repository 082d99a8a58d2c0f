"""Queries of the open-data export: the published rows (streamed), their freshness (one
aggregate), and the computation of a grant's row from the domains' tables, which
`app.opendata.publish` writes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from app.budgets.models import Convention, Envelope, Grant, net_amount
from app.candidates.models import Candidate
from app.opendata.models import PublishedGrant
from app.opendata.sql import due_summary
from app.programme.models import Programme
from app.projects.models import Project

PUBLISHED = PublishedGrant.__table__  # type: ignore[attr-defined]
# The facts of a published row, in the order the export reads them (`rules.GrantFacts`).
FACT_COLUMNS: tuple[str, ...] = (
    "prefecture_name",
    "prefecture_siret",
    "signed_on",
    "decision_reference",
    "beneficiary_name",
    "beneficiary_siret",
    "title",
    "net_cents",
    "due_count",
    "first_due_on",
    "last_due_on",
    "strand",
    "eligible_cost_cents",
    "dispositif_aide",
)
# What a row holds besides its facts and its stamp: its key, and the export's filter.
ROW_COLUMNS: tuple[str, ...] = ("grant_id", "departement", *FACT_COLUMNS)
# The programme's place in a row of `computed_rows_stmt`: after its 14 columns (the grant,
# the département, the facts with the schedule's due dates summed up in one).
PROGRAMME_AT = 14


@dataclass(frozen=True)
class ExportFilter:
    departement: str | None = None
    programme_id: uuid.UUID | None = None  # R-PROG-2: None, every programme
    signed_from: date | None = None  # on the convention's date (SCDL dateConvention)
    signed_to: date | None = None


def _in_scope(f: ExportFilter) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if f.departement is not None:
        clauses.append(PUBLISHED.c.departement == f.departement)
    if f.programme_id is not None:
        clauses.append(PUBLISHED.c.programme_id == f.programme_id)
    return clauses


def _published(f: ExportFilter) -> list[ColumnElement[bool]]:
    """DOMAIN.md §5: a grant with a signed convention (it has a row) whose net amount is
    positive: a cancelled grant appears only if it paid something (its net amount is what it
    paid)."""
    clauses = [*_in_scope(f), PUBLISHED.c.net_cents > 0]
    if f.signed_from is not None:
        clauses.append(PUBLISHED.c.signed_on >= f.signed_from)
    if f.signed_to is not None:
        clauses.append(PUBLISHED.c.signed_on <= f.signed_to)
    return clauses


def export_stmt(f: ExportFilter) -> Select[Any]:
    """The published rows in a stable order (convention date, then grant id): one range of
    `ix_published_grant_signed` (or its département's index), no join."""
    return (
        select(*(PUBLISHED.c[name] for name in FACT_COLUMNS))
        .where(*_published(f))
        .order_by(PUBLISHED.c.signed_on, PUBLISHED.c.grant_id)
    )


def freshness_stmt(f: ExportFilter) -> Select[Any]:
    """How many rows the filter publishes, and the latest change of a row in its
    département (an unpublished row too: a cancellation that removes a row changes the
    validators)."""
    published = select(func.count()).select_from(PUBLISHED).where(*_published(f))
    latest = select(func.max(PUBLISHED.c.updated_at)).where(*_in_scope(f))
    return select(published.scalar_subquery(), latest.scalar_subquery())


def computed_rows_stmt(*where: ColumnElement[bool]) -> Select[Any]:
    """The rows as the domains' tables give them now (`ROW_COLUMNS`, the schedule's due dates
    summed up as `due_summary` text), for the grants with a signed convention that `where`
    selects: their net amount (§5), the eligible cost frozen at the decision (R-PAY-4) and
    their programme's SCDL `dispositifAide`. What `app.opendata.publish` writes, and what the
    export computed at read time before; then the dossier's programme (R-PROG-2, written with a
    new row only: `PROGRAMME_AT`)."""
    return (
        select(
            col(Grant.id),
            col(Envelope.departement),
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
            col(Programme.dispositif_aide),  # SCDL dispositifAide: the programme's (R-PROG-1)
            col(Project.programme_id),
        )
        .select_from(Grant)
        .join(Project, col(Project.id) == col(Grant.project_id))
        .join(Programme, col(Programme.id) == col(Project.programme_id))
        .join(Envelope, col(Envelope.id) == col(Grant.envelope_id))
        .join(Candidate, col(Candidate.id) == col(Project.candidate_id))
        .join(Convention, col(Convention.project_id) == col(Grant.project_id))
        .where(*where)
    )
