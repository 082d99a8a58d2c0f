"""Use cases of the dashboards: the figures are a few aggregate queries (app.stats.repository);
this module adds up their aggregate rows per figure and sets them side by side per scope. No
loop over business rows. Figures are memoised by the database's version (app.stats.cache).

Scope (R-ACL-1): DINUM and ANCT read every département and the national figures; a prefect
reads its own département only (its row, never another's); candidates never read dashboards.

Programmes (R-PROG-2): the figures are one programme's, or every programme's added up (the
router's `programme=*`, here `programme=None`): amounts, dossiers, grants and committees add
up across programmes; the committees due are counted per (programme, département); the
beneficiaries are distinct candidates across programmes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.auth.principal import Principal, Role
from app.committees import due as committees_due
from app.core import clock
from app.core.db import read_only_transaction
from app.programme.cache import programme_by_code
from app.programme.models import Programme
from app.projects.lifecycle_rules import Status
from app.stats import cache as stats_cache, counters, repository as q
from app.stats.rules import ratio_bps, use_rate_bps
from app.stats.schemas import DepartementFigures, DepartementsStats, NationalStats

NATIONAL = "national"
WARM_UP_READER = Principal("warm-up", Role.DINUM)  # `warm_up`'s reader: the national scope

Rows = dict[str | None, list[Any]]


async def _rows(session: AsyncSession, stmt: Select[*tuple[Any, ...]]) -> Rows:
    """The aggregate rows of one statement, by département (None: national)."""
    found: Rows = defaultdict(list)
    for row in (await session.execute(stmt)).all():
        found[row[0]].append(tuple(row[1:]))
    return found


async def _due(
    session: AsyncSession, principal: Principal, programmes: list[Programme], *, grouped: bool
) -> dict[str | None, int]:
    """R-COM-1 today: 1 per département whose committee is due (its own for a prefect), or
    their number nationally, under each programme (R-PROG-2: added up across programmes);
    computed by the committees' one statement per programme that answers due or not without
    counting every waiting dossier (issue 28)."""
    due: list[str] = []
    for programme in programmes:
        due += await committees_due.due_departements(session, principal, programme=programme)
    if not grouped:
        return {None: len(due)}
    counted: dict[str | None, int] = {}
    for departement in due:
        counted[departement] = counted.get(departement, 0) + 1
    return counted


def _strands(programmes: list[Programme]) -> list[str]:
    """The strands the figures list, in their programmes' order (R-PROG-1: data)."""
    codes: list[str] = []
    for programme in programmes:
        codes += [s["code"] for s in programme.strands if s["code"] not in codes]
    return codes


async def _programmes(session: AsyncSession, programme: Programme | None) -> list[Programme]:
    """The programmes the figures cover: the one named, or every programme (R-PROG-2)."""
    if programme is not None:
        return [programme]
    found = await session.execute(select(Programme).order_by(col(Programme.created_at)))
    return list(found.scalars().all())


def _add(table: dict[Any, list[int]], key: Any, *values: Any) -> None:
    """Add aggregate `values` into `table[key]` (a fold of aggregate rows, never of dossiers)."""
    sums = table.setdefault(key, [0] * len(values))
    for i, value in enumerate(values):
        sums[i] += int(value or 0)


Tables = list[dict[Any, list[int]]]


def _fold(rows: Rows, width: int, step: Callable[[tuple[Any, ...], Tables], None]) -> list[Rows]:
    """Fold the aggregate rows of one statement (never dossiers) into `width` figures per
    scope: `step` adds each row into the figures' tables of (key → sums)."""
    folded: list[Rows] = [{} for _ in range(width)]
    for scope, scope_rows in rows.items():
        tables: Tables = [{} for _ in range(width)]
        for row in scope_rows:
            step(row, tables)
        for figure, table in zip(folded, tables, strict=True):
            figure[scope] = [(key, *sums) for key, sums in table.items()]
    return folded


def _project_step(row: tuple[Any, ...], tables: Tables) -> None:
    """A row of `project_figures` into by status, by strand (count, requested), by kind."""
    status, strand, kind, count, submitted, requested = row
    _add(tables[0], status, count)
    _add(tables[1], strand, count, requested)
    if submitted:  # only kinds with a submitted dossier request anything
        _add(tables[2], kind, requested)


def _grant_step(series: bool) -> Callable[[tuple[Any, ...], Tables], None]:
    """A row of `grant_figures` into granted by strand and by kind (net amounts, §5), the
    agents and users reached (one row, key None) and the funded grants by month."""

    def step(row: tuple[Any, ...], tables: Tables) -> None:
        strand, kind, *rest = row
        month = rest.pop(0) if series else None
        funded, net, agents, users = rest
        if funded:
            _add(tables[0], strand, net)
            _add(tables[1], kind, net)
            if series:
                _add(tables[3], month, funded, net)
        _add(tables[2], None, agents, users)

    return step


def _cache_key(
    principal: Principal,
    programmes: list[Programme],
    query: q.StatsQuery,
    *,
    series: bool,
    version: tuple[int, str] | None,
) -> tuple[Any, ...]:
    """What the figures depend on: the query (its programme included), the reader's scope
    (R-COM-1 is scoped), the programmes and their thresholds, today (R-COM-1 due-ness) and the
    database's version."""
    reader = principal.departement if principal.role is Role.PREFECT else None
    return (
        query,
        series,
        reader,
        tuple(
            (
                p.id,
                p.version,
                p.small_population_threshold,
                p.committee_filing_threshold,
            )
            for p in programmes
        ),
        clock.today(),
        version,
    )


async def _figures(
    session: AsyncSession,
    principal: Principal,
    programme: Programme | None,
    query: q.StatsQuery,
    *,
    series: bool,
) -> dict[str | None, dict[str, Any]]:
    """Every figure of every scope the query covers, from the cache when the database has not
    moved since they were computed (app.stats.cache), else by `_compute`."""
    await read_only_transaction(session)  # SQLite: reads never hold the write lock
    # First statement: the snapshot's version, so the figures below are exactly its figures.
    version = await stats_cache.database_version(session)
    programmes = await _programmes(session, programme)
    key = _cache_key(principal, programmes, query, series=series, version=version)
    cached = stats_cache.get(key)
    if cached is not None:
        return dict(cached)
    figures = await _compute(session, principal, programmes, query, series=series)
    stats_cache.put(key, figures)
    return dict(figures)


class Parts(NamedTuple):
    """The aggregate rows of each figure, by scope, before they are set side by side."""

    envelopes: Rows
    statuses: Rows
    strands: Rows
    requested_kind: Rows
    granted_strand: Rows
    granted_kind: Rows
    impact: Rows
    people: Rows
    months: dict[str, Rows]


async def _aggregated(session: AsyncSession, query: q.StatsQuery, *, series: bool) -> Parts:
    """The figures of a period: one pass over the dossiers, one over the grants, one
    aggregate for the beneficiaries and each series."""
    envelopes = await _rows(session, q.envelope_figures(query))
    statuses, strands, requested_kind = _fold(
        await _rows(session, q.project_figures(query)), 3, _project_step
    )
    granted_strand, granted_kind, impact, commitments = _fold(
        await _rows(session, q.grant_figures(query, series=series)), 4, _grant_step(series)
    )
    people = await _rows(session, q.beneficiaries(query))
    months: dict[str, Rows] = {}
    if series:
        months["commitments"] = commitments
        months["payments"] = await _rows(session, q.payments_by_month(query))
        months["submissions"] = await _rows(session, q.submissions_by_month(query))
    return Parts(
        envelopes, statuses, strands, requested_kind, granted_strand, granted_kind, impact,
        people, months,
    )  # fmt: skip


# A counter row (figure, key, n, cents) as the aggregate rows of the figure: which part, and
# the row's values there; only rows with a positive `n` (a dossier, a funded grant, a payment)
# are listed, as the aggregate queries list only what exists.
_COUNTED: dict[str, tuple[str, Callable[[str, int, int], tuple[Any, ...]]]] = {
    counters.STATUS: ("statuses", lambda key, n, _c: (key, n)),
    counters.STRAND: ("strands", lambda key, n, c: (key, n, c)),
    counters.KIND: ("requested_kind", lambda key, _n, c: (key, c)),
    counters.GRANTED_STRAND: ("granted_strand", lambda key, _n, c: (key, c)),
    counters.GRANTED_KIND: ("granted_kind", lambda key, _n, c: (key, c)),
    counters.COMMITMENTS: ("commitments", lambda key, n, c: (key, n, c)),
    counters.PAYMENTS: ("payments", lambda key, n, c: (key, n, c)),
    counters.SUBMISSIONS: ("submissions", lambda key, n, _c: (key, n)),
}


async def _counted(session: AsyncSession, query: q.StatsQuery, *, series: bool) -> Parts:
    """Issue 28: the figures without a period, from the counters the writes keep
    (app.stats.counters): a few thousand counter rows instead of passes over every dossier."""
    parts: dict[str, Rows] = {name: defaultdict(list) for name, _ in _COUNTED.values()}
    impact: dict[str | None, list[int]] = {}
    rows = (await session.execute(q.counter_figures(query, series=series))).all()
    for scope, figure, key, n, cents in rows:
        n, cents = int(n or 0), int(cents or 0)
        if figure == counters.IMPACT:
            reached = impact.setdefault(scope, [0, 0])
            reached[0 if key == counters.AGENTS else 1] += n
        elif figure in _COUNTED and n > 0:
            name, shape = _COUNTED[figure]
            parts[name][scope].append(shape(key, n, cents))
    months: dict[str, Rows] = {}
    if series:
        months = {name: parts[name] for name in ("commitments", "payments", "submissions")}
    return Parts(
        await _rows(session, q.envelope_figures(query)),
        parts["statuses"],
        parts["strands"],
        parts["requested_kind"],
        parts["granted_strand"],
        parts["granted_kind"],
        {scope: [(None, *reached)] for scope, reached in impact.items()},
        await _rows(session, q.counted_beneficiaries(query)),
        months,
    )


async def _compute(
    session: AsyncSession,
    principal: Principal,
    programmes: list[Programme],
    query: q.StatsQuery,
    *,
    series: bool,
) -> dict[str | None, dict[str, Any]]:
    """Every figure of every scope the query covers: from the counters without a period, by
    aggregate queries over a period; the median, the committees held and due by their own."""
    whole = query.period_from is None and query.period_to is None
    parts = await (_counted if whole else _aggregated)(session, query, series=series)
    envelopes, statuses, strands, requested_kind = parts[:4]
    granted_strand, granted_kind, impact, people, months = parts[4:]
    medians = await _rows(session, q.median_days_to_decision(query))
    held = await _rows(session, q.committees_held(query))
    due = await _due(session, principal, programmes, grouped=query.grouped)
    strand_codes = _strands(programmes)

    scopes: set[str | None] = (
        {None} if not query.grouped else set(envelopes) | set(statuses) | set(people)
    )
    if query.departement is not None:
        scopes &= {query.departement}
    return {
        scope: _assemble(
            envelopes.get(scope, []),
            statuses.get(scope, []),
            strands.get(scope, []),
            granted_strand.get(scope, []),
            requested_kind.get(scope, []),
            granted_kind.get(scope, []),
            [(*_one(people.get(scope, []), 2), *_one(impact.get(scope, []), 3)[1:])],
            medians.get(scope, []),
            {name: rows.get(scope, []) for name, rows in months.items()} if series else None,
            held=held.get(scope, []),
            due=due.get(scope, 0),
            strand_codes=strand_codes,
        )
        for scope in scopes
    }


def _one(rows: list[Any], width: int) -> tuple[Any, ...]:
    return tuple(rows[0]) if rows else (0,) * width


def _by_key(rows: list[Any]) -> dict[Any, tuple[Any, ...]]:
    return {row[0]: tuple(row[1:]) for row in rows}


def _assemble(
    envelopes: list[Any],
    statuses: list[Any],
    strands: list[Any],
    granted_strand: list[Any],
    requested_kind: list[Any],
    granted_kind: list[Any],
    beneficiaries: list[Any],
    medians: list[Any],
    months: dict[str, list[Any]] | None,
    *,
    held: list[Any],
    due: int,
    strand_codes: list[str],
) -> dict[str, Any]:
    allocated, committed, paid = (int(v or 0) for v in _one(envelopes, 3))
    status_counts = _by_key(statuses)
    strand_rows = _by_key(strands)
    granted_by_strand = _by_key(granted_strand)
    requested_by_kind = _by_key(requested_kind)
    granted_by_kind = _by_key(granted_kind)
    people, small, agents, users = (int(v or 0) for v in _one(beneficiaries, 4))
    decisions, median = _one(medians, 2)
    figures: dict[str, Any] = {
        "allocated_cents": allocated,
        "committed_cents": committed,
        "paid_cents": paid,
        "available_cents": allocated - committed,
        "use_rate_bps": use_rate_bps(committed, allocated),
        "projects_by_status": [
            {"status": s.value, "projects": int(status_counts.get(s.value, (0,))[0])}
            for s in Status
        ],
        "by_strand": [
            {
                "strand": strand,
                "projects": int(strand_rows.get(strand, (0, 0))[0]),
                "requested_cents": int(strand_rows.get(strand, (0, 0))[1] or 0),
                "granted_cents": int(granted_by_strand.get(strand, (0,))[0] or 0),
            }
            for strand in strand_codes
        ],
        "by_candidate_kind": [
            {
                "kind": kind,
                "requested_cents": int(requested_by_kind.get(kind, (0,))[0] or 0),
                "granted_cents": int(granted_by_kind.get(kind, (0,))[0] or 0),
            }
            for kind in sorted(set(requested_by_kind) | set(granted_by_kind))
        ],
        "decisions": int(decisions or 0),
        "median_days_to_decision": None if median is None else round(float(median), 2),
        "beneficiaries": people,
        "small_beneficiaries": small,
        "small_beneficiary_share_bps": ratio_bps(small, people),
        "agents_impacted": agents,
        "users_impacted": users,
        "series": None if months is None else _series(months),
        "committees_held": int(_one(held, 1)[0] or 0),
        "committees_due": due,
    }
    return figures


def _series(months: dict[str, list[Any]]) -> list[dict[str, Any]]:
    commitments = _by_key(months["commitments"])
    payments = _by_key(months["payments"])
    submissions = _by_key(months["submissions"])
    return [
        {
            "month": month,
            "submissions": int(submissions.get(month, (0,))[0]),
            "commitments": int(commitments.get(month, (0, 0))[0]),
            "commitments_cents": int(commitments.get(month, (0, 0))[1] or 0),
            "payments": int(payments.get(month, (0, 0))[0]),
            "payments_cents": int(payments.get(month, (0, 0))[1] or 0),
        }
        for month in sorted(set(commitments) | set(payments) | set(submissions))
    ]


def _period(value: date | None) -> str | None:
    return value.isoformat() if value else None


async def national(
    session: AsyncSession,
    principal: Principal,
    *,
    programme: Programme | None,
    period_from: date | None,
    period_to: date | None,
    series: bool,
) -> NationalStats:
    """National figures (DINUM, ANCT: the router lets no one else in) of one programme, or of
    every programme (None, R-PROG-2)."""
    query = q.StatsQuery(
        grouped=False,
        programme_id=None if programme is None else programme.id,
        period_from=period_from,
        period_to=period_to,
    )
    figures = (await _figures(session, principal, programme, query, series=series))[None]
    return NationalStats(period_from=_period(period_from), period_to=_period(period_to), **figures)


async def departements(
    session: AsyncSession,
    principal: Principal,
    *,
    programme: Programme | None,
    period_from: date | None,
    period_to: date | None,
    series: bool,
) -> DepartementsStats:
    """One entry per département with an envelope or a dossier; a prefect's own only
    (R-ACL-1: the query is scoped, not filtered afterwards)."""
    only = principal.departement if principal.role is Role.PREFECT else None
    query = q.StatsQuery(
        grouped=True,
        departement=only,
        programme_id=None if programme is None else programme.id,
        period_from=period_from,
        period_to=period_to,
    )
    by_scope = await _figures(session, principal, programme, query, series=series)
    if only is not None and only not in by_scope:  # nothing yet: its figures are zeros
        empty_months: dict[str, list[Any]] = {"commitments": [], "payments": [], "submissions": []}
        by_scope[only] = _assemble(
            [], [], [], [], [], [], [], [], empty_months if series else None, held=[], due=0,
            strand_codes=_strands(await _programmes(session, programme)),
        )  # fmt: skip
    return DepartementsStats(
        period_from=_period(period_from),
        period_to=_period(period_to),
        items=[
            DepartementFigures(departement=str(dep), **figures)
            for dep, figures in sorted(by_scope.items(), key=lambda item: str(item[0]))
        ],
    )


async def warm_up(sessionmaker: Any, programme_code: str) -> None:
    """Compile the national dashboard's statements once, at the server's start (issue 28).

    Its first read computed nothing slower than the next uncached ones, but compiled its nine
    statements first (SQLAlchemy caches a statement's SQL by its shape, not its values): about
    35 ms of CPU, most of the first read's time. Computing the figures once here, and keeping
    nothing of them, leaves the compiled SQL in the engine's cache; the first read still
    computes its figures (the cache of figures is left alone)."""
    async with sessionmaker() as session:
        await read_only_transaction(session)
        programme = await programme_by_code(session, programme_code)
        query = q.StatsQuery(grouped=False, programme_id=programme.id)
        await stats_cache.database_version(session)
        await _compute(session, WARM_UP_READER, [programme], query, series=False)
        await session.rollback()
