"""The schedule's due dates summed up in SQL: how many, the first, the last (issue 13).

The export needs no more of a convention's schedule than that (SCDL `conditionsVersement` and
`datesPeriodeVersement`); decoding the whole JSON document in Python for every grant was a
third of the export's time. JSON functions are spelled per dialect, nothing else differs.
ISO dates (`AAAA-MM-JJ`) order as text, so MIN and MAX of the text are the first and last.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class _ScheduleDue(FunctionElement[Any]):
    """AGG(due_on) over the items of a JSON array of payments (`aggregate` is COUNT, MIN or
    MAX; COUNT skips the items without a due date)."""

    inherit_cache = True
    aggregate = ""


class due_count(_ScheduleDue):  # noqa: N801 - an SQL function's spelling
    type = Integer()
    name = "due_count"
    inherit_cache = True
    aggregate = "count"


class first_due(_ScheduleDue):  # noqa: N801
    type = String()
    name = "first_due"
    inherit_cache = True
    aggregate = "min"


class last_due(_ScheduleDue):  # noqa: N801
    type = String()
    name = "last_due"
    inherit_cache = True
    aggregate = "max"


@compiles(_ScheduleDue, "sqlite")
def _schedule_due_sqlite(element: _ScheduleDue, compiler: Any, **kw: Any) -> str:
    schedule = compiler.process(list(element.clauses)[0], **kw)
    return (
        f"(SELECT {element.aggregate}(json_extract(item.value, '$.due_on')) "
        f"FROM json_each({schedule}) AS item)"
    )


@compiles(_ScheduleDue, "postgresql")
def _schedule_due_pg(element: _ScheduleDue, compiler: Any, **kw: Any) -> str:
    schedule = compiler.process(list(element.clauses)[0], **kw)
    return (
        f"(SELECT {element.aggregate}(item ->> 'due_on') "
        f"FROM json_array_elements({schedule}) AS item)"
    )
