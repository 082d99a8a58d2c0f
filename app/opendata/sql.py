"""The schedule's due dates summed up in SQL: how many, the first, the last (issue 13).

The export needs no more of a convention's schedule than that (SCDL `conditionsVersement` and
`datesPeriodeVersement`); decoding the whole JSON document in Python for every grant was a
third of the export's time. JSON functions are spelled per dialect, nothing else differs.
ISO dates (`AAAA-MM-JJ`) order as text, so MIN and MAX of the text are the first and last.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class due_summary(FunctionElement[Any]):  # noqa: N801 - an SQL function's spelling
    """`COUNT MIN MAX` of the due dates of a JSON array of payments, as one text of three
    words separated by a space ("2 2021-05-01 2022-01-31"; "0  " without a due date): the
    JSON document is parsed once per row, not once per aggregate (three scalar subqueries
    parsed it three times: two thirds of the export's time in the database, issue 13).
    COUNT skips the items without a due date. Read back by `split_due_summary`."""

    type = String()
    name = "due_summary"
    inherit_cache = True


def _summary_of(due_on: str, source: str) -> str:
    return (
        f"(SELECT count({due_on}) || ' ' || coalesce(min({due_on}), '') || ' ' || "
        f"coalesce(max({due_on}), '') FROM {source})"
    )


@compiles(due_summary, "sqlite")
def _due_summary_sqlite(element: due_summary, compiler: Any, **kw: Any) -> str:
    schedule = compiler.process(list(element.clauses)[0], **kw)
    return _summary_of("json_extract(item.value, '$.due_on')", f"json_each({schedule}) AS item")


@compiles(due_summary, "postgresql")
def _due_summary_pg(element: due_summary, compiler: Any, **kw: Any) -> str:
    schedule = compiler.process(list(element.clauses)[0], **kw)
    return _summary_of("item ->> 'due_on'", f"json_array_elements({schedule}) AS item")


def split_due_summary(text: str | None) -> tuple[int, str | None, str | None]:
    """(count, first, last) from `due_summary`'s text; a missing date is None."""
    if not text:
        return 0, None, None
    count, first, last = text.split(" ")
    return int(count), first or None, last or None
