"""The lean read path (issue 28): a read's one statement on a pooled connection, no ORM session.

py-spy on the dossier read put half of its CPU in SQLAlchemy's ORM (loading, statement setup,
the session's and its dependency's lifecycle). A read that needs one statement takes a pooled
Core `AsyncConnection` from the app's engine instead (`ReadConnection`), runs its statement and
builds its response from the row mappings once: no identity map, no session, no flush.

Consistency (a read never sees a half-done write): on PostgreSQL the connection runs in
autocommit, each statement reads one snapshot of committed rows, which is all a one-statement
read needs (a read that needs several statements to agree takes `SnapshotConnection`: one
REPEATABLE READ, READ ONLY transaction). On SQLite every connection reads in a deferred
transaction (the `READ_ONLY_OPTION` of app/core/db.py: `BEGIN`, not `BEGIN IMMEDIATE`), one WAL
snapshot, which never blocks the writer.

Like `get_session`, the dependency makes the request's clock current, is admitted by the same
checkout gate (FIFO admission to the pool, 503 when none frees in time) and lets every database
error reach the same handlers (app/core/exception_handlers.py: 503 with Retry-After for an
unreachable or invalidated database). Tests override `get_read_connection` (and
`get_snapshot_connection`) the way they override `get_session`, to read what the test has set up
and not committed (tests/conftest.py).

Writes keep the ORM session and its one transaction (`SessionDep`). A route takes one or the
other, never both: each is admitted by the gate, and two slots held by one request could starve
the pool under load.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.clock import use_clock
from app.core.db import READ_ONLY_OPTION, CheckoutGate, ClockDep

_AUTOCOMMIT: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"}
_SNAPSHOT: dict[str, Any] = {
    "isolation_level": "REPEATABLE READ",
    "postgresql_readonly": True,
}
_SQLITE_READ: dict[str, Any] = {READ_ONLY_OPTION: True}


@asynccontextmanager
async def read_connection(request: Request, *, snapshot: bool) -> AsyncIterator[AsyncConnection]:
    """A pooled connection for a read, admitted by the checkout gate, returned at the end (its
    transaction, if any, rolled back: a read writes nothing)."""
    state = request.app.state
    gate: CheckoutGate | None = state.checkout_gate
    async with gate.admitted() if gate is not None else nullcontext(), state.engine.connect() as c:
        if c.dialect.name == "sqlite":
            options = _SQLITE_READ
        else:
            options = _SNAPSHOT if snapshot else _AUTOCOMMIT
        yield await c.execution_options(**options)


async def get_read_connection(request: Request, clock: ClockDep) -> AsyncIterator[AsyncConnection]:
    """A read's pooled connection, one statement at a time (PostgreSQL: autocommit)."""
    use_clock(clock)
    async with read_connection(request, snapshot=False) as connection:
        yield connection


async def get_snapshot_connection(
    request: Request, clock: ClockDep
) -> AsyncIterator[AsyncConnection]:
    """A read's pooled connection whose statements read one snapshot (PostgreSQL: REPEATABLE
    READ, READ ONLY; SQLite: one deferred transaction)."""
    use_clock(clock)
    async with read_connection(request, snapshot=True) as connection:
        yield connection


# scope="function": the connection goes back to the pool before the response is sent, as the
# session of `SessionDep` does.
ReadConnection = Annotated[AsyncConnection, Depends(get_read_connection, scope="function")]
SnapshotConnection = Annotated[AsyncConnection, Depends(get_snapshot_connection, scope="function")]
