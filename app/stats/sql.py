"""The two SQL expressions whose spelling differs between SQLite and PostgreSQL.

Everything else in the dashboards (sums, counts, the median by window functions) is the same
SQL on both databases; these two compile per dialect.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class days_between(FunctionElement[float]):  # noqa: N801 - an SQL function's spelling
    """(later − earlier) in days, fractional, for two UTC timestamps."""

    type = Float()
    inherit_cache = True
    name = "days_between"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return (
        f"(julianday({compiler.process(later, **kw)}) - "
        f"julianday({compiler.process(earlier, **kw)}))"
    )


@compiles(days_between, "postgresql")
def _days_between_pg(element: days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return (
        f"(EXTRACT(EPOCH FROM ({compiler.process(later, **kw)} - "
        f"{compiler.process(earlier, **kw)})) / 86400.0)"
    )


class year_month(FunctionElement[str]):  # noqa: N801
    """'YYYY-MM' of a timestamp, read in UTC (the stored time zone)."""

    type = String()
    inherit_cache = True
    name = "year_month"


@compiles(year_month, "sqlite")
def _year_month_sqlite(element: year_month, compiler: Any, **kw: Any) -> str:
    return f"strftime('%Y-%m', {compiler.process(list(element.clauses)[0], **kw)})"


@compiles(year_month, "postgresql")
def _year_month_pg(element: year_month, compiler: Any, **kw: Any) -> str:
    value = compiler.process(list(element.clauses)[0], **kw)
    return f"to_char(({value}) AT TIME ZONE 'UTC', 'YYYY-MM')"


class date_year_month(FunctionElement[str]):  # noqa: N801
    """'YYYY-MM' of a date."""

    type = String()
    inherit_cache = True
    name = "date_year_month"


@compiles(date_year_month, "sqlite")
def _date_year_month_sqlite(element: date_year_month, compiler: Any, **kw: Any) -> str:
    return f"strftime('%Y-%m', {compiler.process(list(element.clauses)[0], **kw)})"


@compiles(date_year_month, "postgresql")
def _date_year_month_pg(element: date_year_month, compiler: Any, **kw: Any) -> str:
    return f"to_char({compiler.process(list(element.clauses)[0], **kw)}, 'YYYY-MM')"
