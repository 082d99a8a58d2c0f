"""Issue 28: the counters the writes kept (app.stats.counters) against their recomputation
from the business tables alone (`scratch_*`: set-based SQL, months by the database)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select
from sqlmodel import col

from app.stats.counters import (
    SNAPSHOT_COLUMNS,
    scratch_beneficiaries,
    scratch_counters,
    scratch_projects,
)
from app.stats.models import StatsBeneficiary, StatsCounter, StatsProject


def _keyed(rows: Any, width: int) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """Rows as {key columns: values}, zero rows left out (a counter back to zero is no row)."""
    found = {}
    for row in rows:
        values = tuple(int(v or 0) for v in row[width:])
        if any(values):
            found[tuple(row[:width])] = values
    return found


def _without_programme(rows: Any) -> list[tuple[Any, ...]]:
    """Counter rows (programme first) added up over the programmes."""
    sums: dict[tuple[Any, ...], list[int]] = {}
    for row in rows:
        values = sums.setdefault(tuple(row[1:4]), [0, 0])
        values[0] += int(row[4] or 0)
        values[1] += int(row[5] or 0)
    return [(*key, *values) for key, values in sums.items()]


def counters_and_scratch(
    connection: Connection, *, by_programme: bool = True
) -> list[tuple[Any, Any]]:
    """(kept, recomputed) for each table: counters (per programme, R-PROG-2; or, for a
    database before the counters had a programme, added up over them), beneficiaries,
    contributions."""
    c = StatsCounter
    figures = (col(c.departement), col(c.figure), col(c.key), col(c.n), col(c.cents))
    kept = select(col(c.programme_id), *figures) if by_programme else select(*figures)
    width = 4 if by_programme else 3
    scratch = connection.execute(scratch_counters())
    b = StatsBeneficiary
    beneficiaries = select(
        col(b.departement), col(b.candidate_id), col(b.programme_id), col(b.grants)
    )
    projects = select(col(StatsProject.project_id), *SNAPSHOT_COLUMNS)
    return [
        (
            _keyed(connection.execute(kept), width),
            _keyed(scratch if by_programme else _without_programme(scratch), width),
        ),
        (
            _keyed(connection.execute(beneficiaries), 3),
            _keyed(connection.execute(scratch_beneficiaries()), 3),
        ),
        (
            {tuple(r) for r in connection.execute(projects)},
            {tuple(r) for r in connection.execute(scratch_projects())},
        ),
    ]


def assert_counters_recomputed(connection: Connection) -> None:
    for kept, recomputed in counters_and_scratch(connection):
        assert kept == recomputed
