"""The lean read path (issue 28): a read's one statement on a pooled connection, no ORM session.

py-spy on the dossier read put half of its CPU in SQLAlchemy's ORM (loading, statement setup,
the session's and its dependency's lifecycle). A read that needs one statement takes a pooled
Core `AsyncConnection` from the app's engine instead (`read_connection`), runs its statement and
builds its response from the row mappings once: no identity map, no session, no flush. On
PostgreSQL an autocommit read goes further: its connection is asyncpg's own, from a pool of its
own (`ReadPool`), its statements run straight on it (`app.core.rawsql.PooledRead`).

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

import logging
from contextlib import AbstractAsyncContextManager
from types import SimpleNamespace
from typing import Any, Protocol

import asyncpg
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.core.config import Settings
from app.core.db import READ_ONLY_OPTION, CheckoutGate, connect_args
from app.core.errors import DatabaseUnavailable
from app.core.rawsql import PooledRead, ReadConnection

logger = logging.getLogger(__name__)

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
    ) -> AbstractAsyncContextManager[ReadConnection]: ...


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


class ReadPool:
    """The autocommit reads' own asyncpg pool (PostgreSQL; issue 28).

    A read that runs in autocommit needs nothing of SQLAlchemy's connection but the driver's:
    no transaction to begin or end, no state to reset. Taking and returning one through the
    engine cost 164-177 µs of CPU (two greenlet switches, the pool's checkout and checkin
    events, the options set and reset), through asyncpg's pool 54-67 µs (tight loop,
    2026-12-07): a third of the envelope read's CPU on the bench. So these reads take their
    connection here (`PooledRead`: the same rows, listeners and errors), and every other
    (a snapshot read, every write) the engine's.

    Its connections are opened as the engine's (`connect_args`: the connect timeout, the
    statement timeout, no JIT; SQLAlchemy's dialect sets its JSON and JSONB codecs on each),
    at most as many as the checkout gate admits requests (`CheckoutGate`, which admits this
    pool's requests with the engine's): an instance holds at most twice the gate's slots of
    connections, the engine's and these, the idle ones closed after 5 minutes (asyncpg's
    default). A connection goes back as it came: autocommit runs no transaction to end, and a
    read sets nothing in its session, so there is no reset query (one round trip each;
    asyncpg still rolls back a transaction left open). A connection the server dropped expires
    the others (as SQLAlchemy invalidates its pool): each is replaced when it next comes back.
    """

    def __init__(self, pool: asyncpg.Pool, engine: AsyncEngine) -> None:
        self._pool, self._engine = pool, engine

    @classmethod
    async def open(cls, engine: AsyncEngine, settings: Settings) -> ReadPool | None:
        """The pool for `engine`'s database; None unless it is PostgreSQL with a queue pool
        (the null pool serves an app driven from several event loops, as a pool cannot)."""
        gate = CheckoutGate.for_engine(engine, settings)
        if engine.dialect.driver != "asyncpg" or gate is None:
            return None
        dialect: Any = engine.dialect
        _, params = dialect.create_connect_args(engine.url)
        for adapter_only in ("prepared_statement_cache_size", "prepared_statement_name_func"):
            params.pop(adapter_only, None)

        async def _codecs(connection: asyncpg.Connection) -> None:
            adapted = SimpleNamespace(_connection=connection)  # what the dialect's setup reads
            await dialect.setup_asyncpg_json_codec(adapted)
            await dialect.setup_asyncpg_jsonb_codec(adapted)

        async def _as_it_came(_connection: asyncpg.Connection) -> None:
            return None

        pool = asyncpg.create_pool(
            **params,
            **connect_args(settings),
            min_size=0,  # opened when needed: a database down at start does not stop the app
            max_size=gate.slots,
            init=_codecs,
            reset=_as_it_came,
        )
        await pool
        return cls(pool, engine)

    async def acquire(self) -> PooledRead:
        """A connection for one read, given back by `release`; a failure to open one is a 503
        with Retry-After, as the engine's (`app.core.db._connect_or_unavailable`)."""
        try:
            driver = await self._pool.acquire()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            logger.warning("database connection failed: %s: %s", type(exc).__name__, exc)
            raise DatabaseUnavailable() from exc
        return PooledRead(driver, self._engine)

    async def release(self, read: PooledRead) -> None:
        if read.closed():
            await self._pool.expire_connections()
        await self._pool.release(read.driver)

    async def close(self) -> None:
        await self._pool.close()


def read_connection(request: Request, *, snapshot: bool) -> _ReadCheckout:
    """`async with read_connection(request, snapshot=…) as connection:` a pooled connection for
    a read, admitted by the checkout gate, returned at the end (its transaction, if any, rolled
    back: a read writes nothing): the reads' own pool's for an autocommit read on PostgreSQL
    (`ReadPool`), else the engine's."""
    return _ReadCheckout(request, snapshot=snapshot)


class _ReadCheckout:
    """`read_connection`'s context manager. Its own `__aenter__` and `__aexit__` take and give
    back the gate's slot and the connection: three nested generator-based context managers
    (this one, the gate's admission, the pool's connection) cost a generator, an object and
    two frames each on every read (issue 28)."""

    __slots__ = ("_state", "_snapshot", "_gate", "_pool", "_read", "_engine_connection")

    def __init__(self, request: Request, *, snapshot: bool) -> None:
        state = request.app.state
        self._state, self._snapshot = state, snapshot
        self._gate: CheckoutGate | None = state.checkout_gate
        pool: ReadPool | None = state.read_pool
        self._pool = None if snapshot else pool
        self._engine_connection: AsyncConnection | None = None

    async def __aenter__(self) -> ReadConnection:
        gate = self._gate
        if gate is not None:
            await gate.__aenter__()
        try:
            if self._pool is not None:
                self._read = await self._pool.acquire()
                return self._read
            self._engine_connection = self._state.read_engines[self._snapshot].connect()
            return await self._engine_connection.__aenter__()
        except BaseException:
            if gate is not None:
                await gate.__aexit__(None, None, None)
            raise

    async def __aexit__(self, *exc: Any) -> None:
        try:
            if self._engine_connection is not None:
                await self._engine_connection.__aexit__(*exc)
            else:
                await self._pool.release(self._read)  # type: ignore[union-attr]
        finally:
            if self._gate is not None:
                await self._gate.__aexit__(None, None, None)
