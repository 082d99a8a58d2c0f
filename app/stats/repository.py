"""The dashboard queries: each figure is one SQL aggregation, grouped by département or not.

Every statement returns its département first (NULL for the national figures), so the
service puts aggregated rows side by side; no statement loads business rows into Python.
Only `days_between` and the month buckets (app.stats.sql) are spelled per dialect.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, case, func, literal, null, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from app.budgets.models import Envelope, Grant, Payment, net_amount
from app.candidates.models import Candidate
from app.committees.models import Committee
from app.committees.rules import CommitteeStatus
from app.core.clock import PARIS
from app.programme.models import Programme
from app.projects.lifecycle_rules import Status
from app.projects.models import Project, ProjectTransition
from app.stats.counters import MONTHLY
from app.stats.models import StatsBeneficiary, StatsCounter
from app.stats.sql import date_year_month, days_between, year_month

CANCELLED = "cancelled"
FUNDED = net_amount() > 0  # §5: a grant counts for its net amount, and when it is positive
DECISIONS = (Status.ACCEPTED.value, Status.REJECTED.value)


@dataclass(frozen=True)
class StatsQuery:
    """Whose figures: every département together (national), one row per département
    (`grouped`), possibly one département only; over a period of days (Europe/Paris); of one
    programme (`programme_id`) or of every programme together (None, R-PROG-2)."""

    grouped: bool
    departement: str | None = None
    programme_id: uuid.UUID | None = None
    period_from: date | None = None
    period_to: date | None = None

    def instants(self) -> tuple[datetime | None, datetime | None]:
        """[from 00:00, day after `to` 00:00) in Paris, as UTC instants."""
        start = (
            datetime.combine(self.period_from, time(), PARIS).astimezone(UTC)
            if self.period_from
            else None
        )
        end = (
            datetime.combine(self.period_to + timedelta(days=1), time(), PARIS).astimezone(UTC)
            if self.period_to
            else None
        )
        return start, end


def _in_period(q: StatsQuery, stamp: Any) -> list[ColumnElement[bool]]:
    start, end = q.instants()
    clauses: list[ColumnElement[bool]] = []
    if start is not None:
        clauses.append(stamp >= start)
    if end is not None:
        clauses.append(stamp < end)
    return clauses


def _day_in_period(q: StatsQuery, day: Any) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if q.period_from is not None:
        clauses.append(day >= q.period_from)
    if q.period_to is not None:
        clauses.append(day <= q.period_to)
    return clauses


def _of_programme(q: StatsQuery, programme_id: Any) -> list[ColumnElement[bool]]:
    """R-PROG-2: the rows of the query's programme (none: every programme)."""
    return [] if q.programme_id is None else [programme_id == q.programme_id]


def _grouped(
    q: StatsQuery,
    departement: Any,
    columns: list[Any],
    keys: list[Any] | None = None,
    *,
    programme: Any = None,
) -> Select[*tuple[Any, ...]]:
    """SELECT [departement | NULL], columns … WHERE departement = … [AND programme = …]
    GROUP BY [dep,] keys."""
    dep = departement.label("departement") if q.grouped else null().label("departement")
    stmt = select(dep, *columns)
    if q.departement is not None:
        stmt = stmt.where(departement == q.departement)
    if programme is not None:
        stmt = stmt.where(*_of_programme(q, programme))
    group = ([departement] if q.grouped else []) + (keys or [])
    return stmt.group_by(*group) if group else stmt


def envelope_figures(q: StatsQuery) -> Select[*tuple[Any, ...]]:
    """Allocated, committed, paid: the envelopes as they stand (no period)."""
    return _grouped(
        q,
        col(Envelope.departement),
        [
            func.coalesce(func.sum(col(Envelope.allocated_cents)), 0),
            func.coalesce(func.sum(col(Envelope.committed_cents)), 0),
            func.coalesce(func.sum(col(Envelope.paid_cents)), 0),
        ],
        programme=col(Envelope.programme_id),
    ).select_from(Envelope)


def project_figures(q: StatsQuery) -> Select[*tuple[Any, ...]]:
    """One pass over the dossiers (submitted in the period, when one is given: drafts then
    drop out) for three figures: by status, by strand (count, requested by the submitted
    ones) and requested by candidate kind. One row per (status, strand, kind): the service
    adds them up per figure. Read from the covering index ix_project_stats (issue 13)."""
    submitted = col(Project.submitted_at).is_not(None)
    return (
        _grouped(
            q,
            col(Project.departement),
            [
                col(Project.status),
                col(Project.strand),
                col(Candidate.kind),
                func.count(),
                func.count(col(Project.submitted_at)),
                func.coalesce(
                    func.sum(case((submitted, col(Project.requested_cents)), else_=0)), 0
                ),
            ],
            [col(Project.status), col(Project.strand), col(Candidate.kind)],
            programme=col(Project.programme_id),
        )
        .select_from(Project)
        .join(Candidate, col(Candidate.id) == col(Project.candidate_id))
        .where(*_in_period(q, col(Project.submitted_at)))
    )


def _funded(amount: Any) -> Any:
    """`amount` summed over funded grants: those whose net amount is positive (§5: a cancelled
    grant that paid nothing counts for nothing, one that paid counts for what it paid)."""
    return func.coalesce(func.sum(case((FUNDED, amount), else_=0)), 0)


def _carried_out(amount: Any) -> Any:
    """`amount` summed over grants not cancelled: an abandoned project reached no one, even
    when it was paid something (which still counts as granted and its beneficiary as one)."""
    return func.coalesce(func.sum(case((col(Grant.status) != CANCELLED, amount), else_=0)), 0)


def grant_figures(q: StatsQuery, *, series: bool) -> Select[*tuple[Any, ...]]:
    """One pass over the grants decided in the period: how many are funded and the sum of
    their net amounts (§5), by strand and by kind (and, with `series`, by month of the
    decision, UTC), and the agents and users the projects not cancelled reach. One row per
    (strand, kind[, month]); the dossier's columns come from the covering index
    ix_project_grant_stats (issue 13)."""
    keys: list[Any] = [col(Project.strand), col(Candidate.kind)]
    if series:
        keys.append(year_month(col(Grant.committed_at)))
    return (
        _grouped(
            q,
            col(Project.departement),
            [
                *keys,
                _funded(literal(1)),
                func.coalesce(func.sum(net_amount()), 0),
                _carried_out(col(Project.agents_impacted)),
                _carried_out(col(Project.users_impacted)),
            ],
            keys,
            programme=col(Project.programme_id),
        )
        .select_from(Grant)
        .join(Project, col(Project.id) == col(Grant.project_id))
        .join(Candidate, col(Candidate.id) == col(Project.candidate_id))
        .where(*_in_period(q, col(Grant.committed_at)))
    )


def beneficiaries(q: StatsQuery) -> Select[*tuple[Any, ...]]:
    """Distinct beneficiaries of funded grants (net amount > 0, §5) decided in the period,
    and those under the
    programme's small-population threshold (5,000 inhabitants). The distinct beneficiaries
    are found first (a hashed DISTINCT over the grants), then counted: COUNT(DISTINCT …)
    then sorts a few thousand rows, not every grant."""
    columns: list[Any] = [
        col(Project.candidate_id).label("candidate_id"),
        col(Project.programme_id).label("programme_id"),
    ]
    if q.grouped:
        columns.insert(0, col(Project.departement).label("departement"))
    funded = (
        select(*columns)
        .distinct()
        .select_from(Grant)
        .join(Project, col(Project.id) == col(Grant.project_id))
        .where(
            FUNDED,
            *_in_period(q, col(Grant.committed_at)),
            *_of_programme(q, col(Project.programme_id)),
        )
    )
    if q.departement is not None:
        funded = funded.where(col(Project.departement) == q.departement)
    f = funded.subquery("funded")
    small = case(
        (col(Candidate.population) < col(Programme.small_population_threshold), f.c.candidate_id)
    )
    dep = f.c.departement if q.grouped else null()
    stmt = (
        select(
            dep.label("departement"),
            func.count(func.distinct(f.c.candidate_id)),
            func.count(func.distinct(small)),
        )
        .select_from(f)
        .join(Candidate, col(Candidate.id) == f.c.candidate_id)
        .join(Programme, col(Programme.id) == f.c.programme_id)
    )
    return stmt.group_by(f.c.departement) if q.grouped else stmt


def median_days_to_decision(q: StatsQuery) -> Select[*tuple[Any, ...]]:
    """Decisions (accepted or rejected) in the period and the median of their days from
    submission, by window functions (the same SQL on both databases): the middle row, or the
    mean of the two middle rows."""
    partition = [col(Project.departement)] if q.grouped else []
    days = days_between(col(ProjectTransition.at), col(Project.submitted_at))
    decided = (
        select(
            col(Project.departement).label("departement"),
            days.label("days"),
            func.row_number().over(partition_by=partition, order_by=days).label("rank"),
            func.count().over(partition_by=partition).label("total"),
        )
        .select_from(ProjectTransition)
        .join(Project, col(Project.id) == col(ProjectTransition.project_id))
        .where(
            col(ProjectTransition.to_status).in_(DECISIONS),
            col(Project.submitted_at).is_not(None),
            *_in_period(q, col(ProjectTransition.at)),
            *_of_programme(q, col(Project.programme_id)),
        )
    )
    if q.departement is not None:
        decided = decided.where(col(Project.departement) == q.departement)
    d = decided.subquery("decided")
    # `//`: integer division on both databases (SQLAlchemy's `/` is true division)
    middle = d.c.rank.in_([(d.c.total + 1) // 2, (d.c.total + 2) // 2])
    dep = d.c.departement if q.grouped else null()
    stmt = select(
        dep.label("departement"),
        func.max(d.c.total),
        func.avg(case((middle, d.c.days), else_=None)),
    )
    return stmt.group_by(d.c.departement) if q.grouped else stmt


def payments_by_month(q: StatsQuery) -> Select[*tuple[Any, ...]]:
    month = date_year_month(col(Payment.paid_on))
    return (
        _grouped(
            q,
            col(Project.departement),
            [month, func.count(), func.coalesce(func.sum(col(Payment.amount_cents)), 0)],
            [month],
            programme=col(Project.programme_id),
        )
        .select_from(Payment)
        .join(Project, col(Project.id) == col(Payment.project_id))
        .where(*_day_in_period(q, col(Payment.paid_on)))
    )


def submissions_by_month(q: StatsQuery) -> Select[*tuple[Any, ...]]:
    month = year_month(col(Project.submitted_at))
    return (
        _grouped(
            q,
            col(Project.departement),
            [month, func.count()],
            [month],
            programme=col(Project.programme_id),
        )
        .select_from(Project)
        .where(col(Project.submitted_at).is_not(None), *_in_period(q, col(Project.submitted_at)))
    )


def committed_and_paid_by_departement() -> Select[*tuple[Any, ...]]:
    """For /metrics: committed and paid per département, as the envelopes stand."""
    return envelope_figures(StatsQuery(grouped=True))


def committees_held(q: StatsQuery) -> Select[*tuple[Any, ...]]:
    """Committees closed in the period (by the day of their close)."""
    return (
        _grouped(
            q, col(Committee.departement), [func.count()], programme=col(Committee.programme_id)
        )
        .select_from(Committee)
        .where(
            col(Committee.status) == CommitteeStatus.CLOSED.value,
            *_in_period(q, col(Committee.closed_at)),
        )
    )


# -- issue 28: the counters kept by the writes (app.stats.counters), for a query without period


def counter_figures(q: StatsQuery, *, series: bool) -> Select[*tuple[Any, ...]]:
    """Every counted figure (stats_counter) per (figure, key), summed over the départements
    for the national figures; the monthly ones only with `series`."""
    figure, key = col(StatsCounter.figure), col(StatsCounter.key)
    stmt = _grouped(
        q,
        col(StatsCounter.departement),
        [figure, key, func.sum(col(StatsCounter.n)), func.sum(col(StatsCounter.cents))],
        [figure, key],
        programme=col(StatsCounter.programme_id),
    )
    if not series:
        stmt = stmt.where(figure.not_in(MONTHLY))
    return stmt.select_from(StatsCounter)


def counted_beneficiaries(q: StatsQuery) -> Select[*tuple[Any, ...]]:
    """`beneficiaries` from stats_beneficiary: the (département, candidate, programme) with a
    funded grant, then the distinct candidates and those under their programme's threshold."""
    b = StatsBeneficiary
    small = case(
        (col(Candidate.population) < col(Programme.small_population_threshold), col(b.candidate_id))
    )
    stmt = _grouped(
        q,
        col(b.departement),
        [func.count(func.distinct(col(b.candidate_id))), func.count(func.distinct(small))],
        programme=col(b.programme_id),
    )
    return (
        stmt.select_from(b)
        .join(Candidate, col(Candidate.id) == col(b.candidate_id))
        .join(Programme, col(Programme.id) == col(b.programme_id))
        .where(col(b.grants) > 0)
    )
