"""Issue 28: on PostgreSQL, what a write's counted dossiers now contribute (`stats_project`)
and the counters they move (`stats_counter`) written by one statement, under the chain head's
lock (`app.stats.counters._count`): one round trip instead of two.

Each table's rows are bound as one array per column and unnested, so that the statement's
text, built once, does not depend on how many rows it writes; the dossiers' upsert is a
data-modifying WITH of the counters' (PostgreSQL runs it exactly once, in the same snapshot).
The keys of each table's rows are distinct (summed by key, one contribution per dossier): an
upsert never meets its own row twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import ARRAY, Table, bindparam, func, select
from sqlalchemy.dialects import postgresql

from app.stats.models import StatsCounter, StatsProject

COUNTER = StatsCounter.__table__  # type: ignore[attr-defined]
CONTRIBUTION = StatsProject.__table__  # type: ignore[attr-defined]
COUNTER_KEYS = ("programme_id", "departement", "figure", "key")
COUNTER_COLUMNS = (*COUNTER_KEYS, "n", "cents")
CONTRIBUTION_COLUMNS = tuple(c.key for c in CONTRIBUTION.columns)


def _unnested(table: Table, columns: Sequence[str], prefix: str) -> Any:
    """SELECT unnest(:<prefix><column>) for each column: the rows bound as arrays."""
    return select(
        *(
            func.unnest(bindparam(f"{prefix}{name}", type_=ARRAY(table.c[name].type)))
            for name in columns
        )
    )


@cache
def statement() -> Any:
    """The contributions' upsert (replacing each dossier's) and the counters' (`n = n + :d`)."""
    saved = postgresql.insert(CONTRIBUTION).from_select(
        list(CONTRIBUTION_COLUMNS), _unnested(CONTRIBUTION, CONTRIBUTION_COLUMNS, "p_")
    )
    saved = saved.on_conflict_do_update(
        index_elements=["project_id"],
        set_={name: saved.excluded[name] for name in CONTRIBUTION_COLUMNS[1:]},
    )
    counted = postgresql.insert(COUNTER).from_select(
        list(COUNTER_COLUMNS), _unnested(COUNTER, COUNTER_COLUMNS, "c_")
    )
    counted = counted.on_conflict_do_update(
        index_elements=list(COUNTER_KEYS),
        set_={name: COUNTER.c[name] + counted.excluded[name] for name in ("n", "cents")},
    )
    return counted.add_cte(saved.cte("saved"))


def params(counters: list[dict[str, Any]], contributions: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows of both tables (dicts of their columns) as the statement's arrays."""
    bound = {f"c_{name}": [row[name] for row in counters] for name in COUNTER_COLUMNS}
    for name in CONTRIBUTION_COLUMNS:
        bound[f"p_{name}"] = [row[name] for row in contributions]
    return bound
