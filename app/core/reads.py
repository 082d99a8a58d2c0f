"""The lean read path (issue 28): a read's one statement on a pooled connection, no ORM session.

py-spy on the dossier read put half of its CPU in SQLAlchemy's ORM (loading, statement setup,
the session's and its dependency's lifecycle). A read that needs one statement takes a pooled
Core `AsyncConnection` from the app's engine instead (`read_connection`), runs its statement and
builds its response from the row mappings once: no identity map, no session, no flush.

Consistency (a read never sees a half-done write): on PostgreSQL the connection runs in
autocommit, each statement reads one snapshot of committed rows, which is all a one-statement
read needs (a read that needs several statements to agree takes a snapshot: one REPEATABLE READ,
READ ONLY transaction). On SQLite every connection reads in a deferred transaction (the
`READ_ONLY_OPTION` of app/core/db.py: `BEGIN`, not `BEGIN IMMEDIATE`), one WAL snapshot, which
never blocks the writer.

A read takes its connection with its caller's check, in one dependency (`read_access` in
app/auth/dependencies.py, issue 28) which, like `get_session`, makes the request's clock current
first. The connection is admitted by the same checkout gate (FIFO admission to the pool, 503 when
none frees in time) and every database error reaches the same handlers
(app/core/exception_handlers.py: 503 with Retry-After for an unreachable or invalidated
database). The dependency takes it from `app.state.read_connection` (`read_connection` below):
tests put theirs in its place, as they override `get_session`, to read what the test has set up
and not committed (tests/conftest.py).

Writes keep the ORM session and its one transaction (`SessionDep`). A route takes one or the
other, never both: each is admitted by the gate, and two slots held by one request could starve
the pool under load.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any, Protocol

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.core.db import READ_ONLY_OPTION, CheckoutGate

_AUTOCOMMIT: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"}
_SNAPSHOT: dict[str, Any] = {
    "isolation_level": "REPEATABLE READ",
    "postgresql_readonly": True,
}
_SQLITE_READ: dict[str, Any] = {READ_ONLY_OPTION: True}


class ReadConnections(Protocol):
    """How a read takes its connection (`app.state.read_connection`)."""

    def __call__(
        self, request: Request, *, snapshot: bool
    ) -> AbstractAsyncContextManager[AsyncConnection]: ...


def read_engines(engine: AsyncEngine) -> dict[bool, AsyncEngine]:
    """The engines a read connects with, by `snapshot`: `engine`'s pool and connections, with
    the read's options set at connection (`Engine.execution_options`: SQLAlchemy applies them in
    the checkout itself, and resets them at checkin). Setting them on each connection after
    its checkout took one more switch into SQLAlchemy's greenlet: 8 % of an envelope read's CPU
    in-process (issue 28, 2026-12-06)."""
    if engine.dialect.name == "sqlite":
        return dict.fromkeys((False, True), engine.execution_options(**_SQLITE_READ))
    return {
        False: engine.execution_options(**_AUTOCOMMIT),
        True: engine.execution_options(**_SNAPSHOT),
    }


@asynccontextmanager
async def read_connection(request: Request, *, snapshot: bool) -> AsyncIterator[AsyncConnection]:
    """A pooled connection for a read, admitted by the checkout gate, returned at the end (its
    transaction, if any, rolled back: a read writes nothing)."""
    state = request.app.state
    gate: CheckoutGate | None = state.checkout_gate
    engine: AsyncEngine = state.read_engines[snapshot]
    async with gate.admitted() if gate is not None else nullcontext(), engine.connect() as c:
        yield c
