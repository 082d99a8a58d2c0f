"""Count the SQL statements a request sends (issue 13: constant, whatever the page size).

`count_statements(engine)` listens to `before_cursor_execute` on the app's engine for the block
it wraps (one request in a test: nothing else runs on the engine meanwhile) and sorts what it
sees into data statements (SELECT, INSERT, UPDATE, DELETE, WITH …) and transaction control
(BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE). What a request costs is `total`: its data
statements plus the two of its one transaction (BEGIN and COMMIT, which the test harness plays
as SAVEPOINT / RELEASE SAVEPOINT, and which asyncpg sends outside a cursor): that count is the
one the issue bounds (≤ 3 for a list: BEGIN, one SELECT, COMMIT).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA")
TRANSACTION = 2  # BEGIN and COMMIT of the request's one transaction


@dataclass
class StatementLog:
    data: list[str] = field(default_factory=list)
    control: list[str] = field(default_factory=list)

    def record(self, statement: str) -> None:
        head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        (self.control if head in _CONTROL else self.data).append(statement)

    @property
    def total(self) -> int:
        """Data statements plus the request's BEGIN and COMMIT."""
        return len(self.data) + TRANSACTION

    def explain(self) -> str:
        return "\n---\n".join(s.strip()[:300] for s in self.data)


@contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[StatementLog]:
    log = StatementLog()

    def _before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        log.record(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", _before)
    try:
        yield log
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", _before)
