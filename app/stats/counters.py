"""Issue 28: the dashboards' figures kept current by the writes, in the writes' transactions.

Every change of a dossier, a grant, a payment or a candidate is audited in its transaction
(R-AUDIT-1); at its commit, before the audit chain's head is locked, `_read_counted` (a
`before_append` listener) locks the touched dossiers' rows and reads what each contributes now
(status, strand, candidate kind, submission, grant and its net amount, §5) and what it
contributed before (`stats_project`); under the head's lock, `_count` (riding with the append)
takes the old contribution out of the counters and puts the new one in; a recorded payment
adds itself to its month. Every counter changes by an
atomic `n = n + :d` upsert (INSERT … ON CONFLICT DO UPDATE, both databases), so writers on
several instances never lose an increment; a rolled-back write leaves the counters as they were.

The dashboards without a period read these counters (app.stats.service); a period, which cuts
at Paris midnights, is still answered by the aggregate queries of app.stats.repository.

`scratch_*` recompute every counter from the business tables alone (set-based SQL, months by
app.stats.sql): `recount` rebuilds the counters from them after writes made below the service
(the bench's generator, a restore), and the reconciliation tests compare the two.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    String,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col

from app.audit import service as audit_service
from app.budgets.models import Grant, Payment, net_amount
from app.candidates.models import Candidate
from app.core import rawsql
from app.core.db import held_rows, transaction_info
from app.projects.models import Project
from app.stats import together
from app.stats.models import StatsBeneficiary, StatsCounter, StatsProject
from app.stats.sql import date_year_month, year_month

CANCELLED = "cancelled"
# The figures of stats_counter: key, then what `n` and `cents` hold.
STATUS = "status"  # status; dossiers
STRAND = "strand"  # strand; dossiers, requested by the submitted ones
KIND = "kind"  # candidate kind; submitted dossiers, requested
SUBMISSIONS = "submissions"  # UTC month of submission; dossiers
GRANTED_STRAND = "granted_strand"  # strand; funded grants (net > 0), net amounts (§5)
GRANTED_KIND = "granted_kind"  # candidate kind; funded grants, net amounts
COMMITMENTS = "commitments"  # UTC month of the decision; funded grants, net amounts
IMPACT = "impact"  # "agents" / "users"; reached by the grants not cancelled
PAYMENTS = "payments"  # month paid; payments, amounts
AGENTS, USERS = "agents", "users"
MONTHLY = (SUBMISSIONS, COMMITMENTS, PAYMENTS)  # read only for the series (group_by=month)

CounterKey = tuple[uuid.UUID, str, str, str]  # (programme, departement, figure, key)
BeneficiaryKey = tuple[str, uuid.UUID, uuid.UUID]  # (departement, candidate, programme)


@dataclass(frozen=True)
class Contribution:
    """What one dossier adds to the counters (the columns of stats_project)."""

    departement: str
    status: str
    strand: str
    kind: str
    candidate_id: uuid.UUID
    programme_id: uuid.UUID
    submitted_month: str | None
    requested_cents: int
    committed_month: str | None
    net_cents: int
    carried_out: bool
    agents_impacted: int
    users_impacted: int


@dataclass
class Deltas:
    counters: defaultdict[CounterKey, list[int]]
    beneficiaries: defaultdict[BeneficiaryKey, int]

    @classmethod
    def empty(cls) -> Deltas:
        return cls(defaultdict(lambda: [0, 0]), defaultdict(int))

    def add(self, c: Contribution, sign: int) -> None:
        """`sign` × the figures of contribution `c` (−1: take it out, +1: put it in)."""
        dep, pid = c.departement, c.programme_id

        def put(figure: str, key: str, n: int, cents: int = 0) -> None:
            sums = self.counters[(pid, dep, figure, key)]
            sums[0] += sign * n
            sums[1] += sign * cents

        put(STATUS, c.status, 1)
        submitted = c.submitted_month is not None
        put(STRAND, c.strand, 1, c.requested_cents if submitted else 0)
        if c.submitted_month is not None:
            put(KIND, c.kind, 1, c.requested_cents)
            put(SUBMISSIONS, c.submitted_month, 1)
        if c.committed_month is not None:
            funded = int(c.net_cents > 0)  # §5: a grant counts when its net amount is positive
            put(GRANTED_STRAND, c.strand, funded, c.net_cents)
            put(GRANTED_KIND, c.kind, funded, c.net_cents)
            put(COMMITMENTS, c.committed_month, funded, c.net_cents)
            if c.carried_out:
                put(IMPACT, AGENTS, c.agents_impacted)
                put(IMPACT, USERS, c.users_impacted)
            if funded:
                self.beneficiaries[(dep, c.candidate_id, c.programme_id)] += sign

    def changed(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        counters = [
            {"programme_id": p, "departement": d, "figure": f, "key": k, "n": n, "cents": cents}
            for (p, d, f, k), (n, cents) in sorted(self.counters.items(), key=str)
            if n or cents
        ]
        beneficiaries = [
            {"departement": d, "candidate_id": cid, "programme_id": pid, "grants": n}
            for (d, cid, pid), n in sorted(self.beneficiaries.items(), key=str)
            if n
        ]
        return counters, beneficiaries


def utc_month(at: datetime | None) -> str | None:
    """'YYYY-MM' of a UTC timestamp, as app.stats.sql.year_month reads it in SQL."""
    return None if at is None else at.astimezone(UTC).strftime("%Y-%m")


CONTRIBUTION_COLUMNS = [
    col(Project.departement),
    col(Project.status),
    col(Project.strand),
    col(Candidate.kind),
    col(Project.candidate_id),
    col(Project.programme_id),
    col(Project.submitted_at),
    col(Project.requested_cents),
    col(Grant.committed_at),
    net_amount(),
    col(Grant.status),
    col(Project.agents_impacted),
    col(Project.users_impacted),
]
SNAPSHOT_COLUMNS = [
    col(StatsProject.departement),
    col(StatsProject.status),
    col(StatsProject.strand),
    col(StatsProject.kind),
    col(StatsProject.candidate_id),
    col(StatsProject.programme_id),
    col(StatsProject.submitted_month),
    col(StatsProject.requested_cents),
    col(StatsProject.committed_month),
    col(StatsProject.net_cents),
    col(StatsProject.carried_out),
    col(StatsProject.agents_impacted),
    col(StatsProject.users_impacted),
]
WIDTH = len(CONTRIBUTION_COLUMNS)
PROJECT_TABLE = Project.__tablename__


def _contribution(row: Iterable[Any]) -> Contribution:
    """A dossier's contribution from its row, its candidate's and its grant's (if any)."""
    (dep, status, strand, kind, cid, pid, submitted_at, requested, committed_at, net,
     grant_status, agents, users) = row  # fmt: skip
    return Contribution(
        departement=str(dep),
        status=str(status),
        strand=str(strand),
        kind=str(kind),
        candidate_id=cid,
        programme_id=pid,
        submitted_month=utc_month(submitted_at),
        requested_cents=int(requested),
        committed_month=utc_month(committed_at),
        net_cents=int(net or 0),
        carried_out=committed_at is not None and grant_status != CANCELLED,
        agents_impacted=int(agents or 0),
        users_impacted=int(users or 0),
    )


def _ids(rows: list[dict[str, Any]], object_type: str) -> set[uuid.UUID]:
    found = set()
    for row in rows:
        if row["object_type"] == object_type:
            try:
                found.add(uuid.UUID(str(row["object_id"])))
            except ValueError:
                continue
    return found


def _dialect(session: Session) -> Any:
    return postgresql if session.get_bind().dialect.name == "postgresql" else sqlite


@cache
def _upsert_stmt(dialect: Any, model: Any, keys: tuple[str, ...], sums: tuple[str, ...]) -> Any:
    """`sums` += the row's values, an atomic upsert (INSERT … ON CONFLICT DO UPDATE), built
    once per dialect (issue 28: no statement construction per write)."""
    stmt = dialect.insert(model.__table__)
    table = model.__table__
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={name: table.c[name] + stmt.excluded[name] for name in sums}
    )


@cache
def _save_stmt(dialect: Any) -> Any:
    """Store what a dossier now contributes (an upsert replacing the old contribution)."""
    stmt = dialect.insert(StatsProject.__table__)  # type: ignore[attr-defined]
    return stmt.on_conflict_do_update(
        index_elements=["project_id"],
        set_={f.name: stmt.excluded[f.name] for f in fields(Contribution)},
    )


COUNTER_KEYS = ("programme_id", "departement", "figure", "key")
BENEFICIARY_KEYS = ("departement", "candidate_id", "programme_id")


def apply(
    session: Session, deltas: Deltas, contributions: dict[uuid.UUID, Contribution] | None = None
) -> None:
    """Add `deltas` to the counters and, with `contributions`, store what each dossier now
    contributes (an upsert replacing the old contribution): on PostgreSQL the contributions
    and the counters in one statement (`app.stats.together`)."""
    rider = _write(session, _plan(_dialect(session), deltas, contributions))
    if rider is not None:
        rawsql.fetchrow_sync(session.connection(), *rider)


@dataclass(frozen=True)
class Plan:
    """The rows `apply` writes: on PostgreSQL the contributions and the counters as one
    statement (`rider`), the other tables' rows beside it."""

    rider: audit_service.Rider | None
    counters: list[dict[str, Any]]
    beneficiaries: list[dict[str, Any]]
    saved: list[dict[str, Any]]


def _plan(
    dialect: Any, deltas: Deltas, contributions: dict[uuid.UUID, Contribution] | None
) -> Plan:
    counters, beneficiaries = deltas.changed()
    saved = [{"project_id": pid, **c.__dict__} for pid, c in sorted((contributions or {}).items())]
    if saved and dialect is postgresql:
        rider = (together.statement(), together.params(counters, saved))
        return Plan(rider, [], beneficiaries, [])
    return Plan(None, counters, beneficiaries, saved)


def _write(session: Session, plan: Plan) -> audit_service.Rider | None:
    """The plan's rows written but for its rider, returned."""
    dialect, connection = _dialect(session), session.connection()
    if plan.counters:
        stmt = _upsert_stmt(dialect, StatsCounter, COUNTER_KEYS, ("n", "cents"))
        connection.execute(stmt, plan.counters)
    if plan.beneficiaries:
        stmt = _upsert_stmt(dialect, StatsBeneficiary, BENEFICIARY_KEYS, ("grants",))
        connection.execute(stmt, plan.beneficiaries)
    if plan.saved:
        connection.execute(_save_stmt(dialect), plan.saved)
    return plan.rider


def _recount_stmt(where: Any) -> Any:
    """The dossiers matched by `where`: their current contribution and their counted one."""
    return (
        select(col(Project.id), *CONTRIBUTION_COLUMNS, *SNAPSHOT_COLUMNS)
        .select_from(Project)
        .join(Candidate, col(Candidate.id) == col(Project.candidate_id))
        .outerjoin(Grant, col(Grant.project_id) == col(Project.id))
        .outerjoin(StatsProject, col(StatsProject.project_id) == col(Project.id))
        .where(where)
    )


# What an audited change touches (`_count`): dossiers by id, by their grant's id, by their
# candidate's id, each a bind parameter expanded to the ids.
_TOUCHED = {
    "project": lambda: col(Project.id).in_(bindparam("projects", expanding=True)),
    "grant": lambda: col(Project.id).in_(
        select(col(Grant.project_id)).where(col(Grant.id).in_(bindparam("grants", expanding=True)))
    ),
    # a candidate's kind is its dossiers' (R-ELIG-1)
    "candidate": lambda: col(Project.candidate_id).in_(bindparam("candidates", expanding=True)),
}


@cache
def _touched_stmt(kinds: tuple[str, ...]) -> Any:
    """`_recount_stmt` over the dossiers these kinds of objects touch, built once a shape."""
    return _recount_stmt(or_(*(_TOUCHED[kind]() for kind in kinds)))


# The most frequent shape, one dossier's change (a submission, an instruction's step): its
# statement has no list to expand, so that it runs on asyncpg's own connection (rawsql).
_ONE_DOSSIER = _recount_stmt(col(Project.id) == bindparam("project"))


Moves = tuple[Deltas, dict[uuid.UUID, Contribution]]


def _moves(rows: Iterable[Any]) -> Moves:
    """What moving each dossier of `rows` (`_recount_stmt`'s) from its counted contribution to
    its current one changes: the counters' deltas and the dossiers' new contributions."""
    deltas = Deltas.empty()
    changed: dict[uuid.UUID, Contribution] = {}
    for row in rows:
        now = _contribution(row[1 : 1 + WIDTH])
        old = None if row[1 + WIDTH] is None else Contribution(*row[1 + WIDTH :])
        if now == old:
            continue
        if old is not None:
            deltas.add(old, -1)
        deltas.add(now, +1)
        changed[row[0]] = now
    return deltas, changed


def _recount_rows(session: Session, rows: Iterable[Any]) -> None:
    """Move each dossier of `rows` (`_recount_stmt`'s) from its counted contribution to its
    current one."""
    apply(session, *_moves(rows))


def recount_projects(session: Session, where: Any) -> None:
    """Move the dossiers matched by `where` from their counted contribution to their current
    one: one statement reads both (the old one from stats_project), then the upserts."""
    _recount_rows(session, session.execute(_recount_stmt(where)).all())


_PAYMENTS_STMT = (
    select(
        col(Project.programme_id),
        col(Project.departement),
        col(Payment.paid_on),
        col(Payment.amount_cents),
    )
    .select_from(Payment)
    .join(Project, col(Project.id) == col(Payment.project_id))
    .where(col(Payment.id).in_(bindparam("payments", expanding=True)))
)


def _count_payments(session: Session, payment_ids: set[uuid.UUID]) -> None:
    """A recorded payment adds itself to its month (payments are never changed nor deleted)."""
    found = session.connection().execute(_PAYMENTS_STMT, {"payments": sorted(payment_ids)})
    deltas = Deltas.empty()
    for pid, dep, paid_on, amount in found.all():
        sums = deltas.counters[(pid, str(dep), PAYMENTS, paid_on.strftime("%Y-%m"))]
        sums[0] += 1
        sums[1] += int(amount)
    apply(session, deltas)


@cache
def _lock_stmt(kinds: tuple[str, ...]) -> Any:
    """The dossiers these kinds of objects touch, locked in the order of their ids (FOR NO KEY
    UPDATE: as an UPDATE of the dossier locks it; a reader, or an insert that references it,
    is not held), built once a shape."""
    where = or_(*(_TOUCHED[kind]() for kind in kinds))
    return (
        select(col(Project.id))
        .where(where)
        .order_by(col(Project.id))
        .with_for_update(key_share=True)
    )


_COUNTED = "stats.counted"  # transaction_info: the plan `_read_counted` made for `_count`


@audit_service.before_append
def _read_counted(session: Session, events: list[dict[str, Any]]) -> None:
    """What the transaction's audited changes move in the counters (§5), read before the chain
    head's lock (issue 28: a burst of submissions queues on it, from its lock to the COMMIT;
    this round trip is no longer held under it), or, for one dossier on PostgreSQL, in the
    lock's own statement (`audit_service.read_with_lock`: one round trip less; it reads in the
    snapshot taken before it waits, which is what a read made just before it would see, since
    the dossier's row is already this transaction's).

    Two transactions never count the same dossier's move at once: each holds the dossier's row
    locked from this read to its COMMIT (PostgreSQL: its own UPDATE of it, noted by
    `hold_rows`, else `_lock_stmt` first, in a statement of its own so that the read, which
    follows, sees what the previous holder committed; SQLite: BEGIN IMMEDIATE made the
    transaction the only writer). So a dossier's counted contribution (`stats_project`) is
    what the last commit that counted it wrote, and what this read finds is its state until
    this COMMIT. Statements built once per shape, run on the session's connection (Core rows,
    no ORM loading)."""
    touched = {kind: _ids(events, kind) for kind in _TOUCHED}
    params = {f"{kind}s": sorted(ids) for kind, ids in touched.items() if ids}
    if not params:
        return
    connection = session.connection()
    kinds = tuple(kind for kind, ids in touched.items() if ids)
    held = kinds == ("project",) and touched["project"] <= held_rows(session, PROJECT_TABLE)
    if _dialect(session) is postgresql and not held:
        connection.execute(_lock_stmt(kinds), params)

    def planned(rows: Iterable[Any]) -> None:
        # what is written under the lock, worked out before the riders' writes
        transaction_info(session)[_COUNTED] = _plan(_dialect(session), *_moves(rows))

    if kinds == ("project",) and len(params["projects"]) == 1:
        one = {"project": params["projects"][0]}
        audit_service.read_with_lock(session, _ONE_DOSSIER, one, planned)
    else:
        planned(connection.execute(_touched_stmt(kinds), params).all())


@audit_service.rides_append
def _count(session: Session, events: list[dict[str, Any]]) -> audit_service.Rider | None:
    """The moves `_read_counted` read into the counters, under the chain head's lock (the hot
    counters' rows are held from there to the COMMIT only): on PostgreSQL the dossiers'
    contributions and the counters' upsert ride with the append (one statement); a recorded
    payment adds itself to its month."""
    plan: Plan | None = transaction_info(session).pop(_COUNTED, None)
    rider = None if plan is None else _write(session, plan)
    payments = _ids(events, "payment")
    if payments:
        _count_payments(session, payments)
    return rider


# -- from scratch ----------------------------------------------------------------------------


def _grants() -> Any:
    return (
        select()
        .select_from(Grant)
        .join(Project, col(Project.id) == col(Grant.project_id))
        .join(Candidate, col(Candidate.id) == col(Project.candidate_id))
    )


LABELS = ("programme_id", "departement", "figure", "key", "n", "cents")


def scratch_counters() -> Any:
    """Every row of stats_counter, from the business tables alone (zeros included)."""
    dep, pid = col(Project.departement), col(Project.programme_id)
    submitted = col(Project.submitted_at).is_not(None)
    requested = col(Project.requested_cents)
    funded = func.coalesce(func.sum(case((net_amount() > 0, 1), else_=0)), 0)
    net = func.coalesce(func.sum(net_amount()), 0)
    carried = col(Grant.status) != CANCELLED
    projects = select().select_from(Project)
    submissions = projects.join(Candidate, col(Candidate.id) == col(Project.candidate_id)).where(
        submitted
    )
    month = year_month(col(Project.submitted_at))
    decided = year_month(col(Grant.committed_at))
    paid = date_year_month(col(Payment.paid_on))

    def figure(base: Any, name: str, key: Any, n: Any, cents: Any) -> Any:
        constant = isinstance(key, str)  # IMPACT's keys: grouped by département only
        name_and_key = [literal(name, String), literal(key, String) if constant else key]
        columns = [pid, dep, *name_and_key, n, cents]
        labelled = [c.label(label) for c, label in zip(columns, LABELS, strict=True)]
        group = [pid, dep] if constant else [pid, dep, key]
        return base.add_columns(*labelled).group_by(*group)

    return union_all(
        figure(projects, STATUS, col(Project.status), func.count(), literal(0)),
        figure(
            projects,
            STRAND,
            col(Project.strand),
            func.count(),
            func.coalesce(func.sum(case((submitted, requested), else_=0)), 0),
        ),
        figure(submissions, KIND, col(Candidate.kind), func.count(), func.sum(requested)),
        figure(submissions, SUBMISSIONS, month, func.count(), literal(0)),
        figure(_grants(), GRANTED_STRAND, col(Project.strand), funded, net),
        figure(_grants(), GRANTED_KIND, col(Candidate.kind), funded, net),
        figure(_grants(), COMMITMENTS, decided, funded, net),
        *(
            figure(
                _grants(),
                IMPACT,
                name,
                func.coalesce(func.sum(case((carried, column), else_=0)), 0),
                literal(0),
            )
            for name, column in (
                (AGENTS, col(Project.agents_impacted)),
                (USERS, col(Project.users_impacted)),
            )
        ),
        figure(
            select().select_from(Payment).join(Project, col(Project.id) == col(Payment.project_id)),
            PAYMENTS,
            paid,
            func.count(),
            func.sum(col(Payment.amount_cents)),
        ),
    )


def scratch_beneficiaries() -> Any:
    """Every row of stats_beneficiary with a funded grant, from the grants alone."""
    keys = [col(Project.departement), col(Project.candidate_id), col(Project.programme_id)]
    funded = func.sum(case((net_amount() > 0, 1), else_=0))
    return (
        select(*keys, funded)
        .select_from(Grant)
        .join(Project, col(Project.id) == col(Grant.project_id))
        .group_by(*keys)
        .having(funded > 0)
    )


def scratch_projects() -> Any:
    """Every row of stats_project, from the dossiers, their candidates and grants."""
    counted = col(Grant.committed_at).is_not(None)
    return (
        select(
            col(Project.id),
            *CONTRIBUTION_COLUMNS[:6],  # département, status, strand, kind, candidate, programme
            case((col(Project.submitted_at).is_not(None), year_month(col(Project.submitted_at)))),
            col(Project.requested_cents),
            case((counted, year_month(col(Grant.committed_at)))),
            func.coalesce(net_amount(), 0),
            and_(counted, col(Grant.status) != CANCELLED),
            col(Project.agents_impacted),
            col(Project.users_impacted),
        )
        .select_from(Project)
        .join(Candidate, col(Candidate.id) == col(Project.candidate_id))
        .outerjoin(Grant, col(Grant.project_id) == col(Project.id))
    )


async def recount(session: AsyncSession) -> None:
    """Rebuild every counter from the business tables (after writes made below the service:
    a data generator, a restore, a manual fix), in the caller's transaction."""
    for model in (StatsCounter, StatsBeneficiary, StatsProject):
        await session.execute(delete(model))
    counters = scratch_counters().subquery()
    await session.execute(
        insert(StatsCounter).from_select(
            list(LABELS),
            select(*counters.c).where(or_(counters.c.n != 0, counters.c.cents != 0)),
        )
    )
    await session.execute(
        insert(StatsBeneficiary).from_select(
            ["departement", "candidate_id", "programme_id", "grants"], scratch_beneficiaries()
        )
    )
    await session.execute(
        insert(StatsProject).from_select(
            ["project_id", *(f.name for f in fields(Contribution))], scratch_projects()
        )
    )
