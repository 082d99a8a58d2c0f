"""Engine, sessions and the one-transaction-per-request dependency.

SQLite (embedded default) and PostgreSQL run the same code. SQLite gets WAL, a busy timeout,
foreign keys and `BEGIN IMMEDIATE` for every transaction (RELIABILITY.md §3: a deferred BEGIN
that upgrades to a write fails with "database is locked" under concurrency).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from inspect import isawaitable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from sqlalchemy import BigInteger, CheckConstraint, MetaData, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.pool import NullPool
from sqlmodel import Field, SQLModel

from app.core.clock import Clock, ClockRefused, settle_offset, use_clock
from app.core.config import Settings
from app.core.errors import AppError, DatabaseUnavailable, ServiceUnavailable
from app.core.types import UTCDateTime

logger = logging.getLogger("app.db")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# Set before any table model is imported, so that every constraint gets a stable name
# (batch migrations on SQLite need them, and autogenerate stays quiet).
SQLModel.metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(settings: Settings, **engine_options: Any) -> AsyncEngine:
    """Build the async engine for the configured URL, with per-backend settings (and
    `engine_options` for `create_async_engine`, e.g. the demo load's `async_creator`)."""
    url = make_url(settings.database_url)
    kwargs: dict[str, Any] = dict(engine_options)
    if settings.database_pool == "null":
        kwargs["poolclass"] = NullPool
    if url.get_backend_name() == "sqlite":
        database = url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            if settings.database_pool != "null":  # in memory: a StaticPool, nothing to wait for
                kwargs["pool_timeout"] = settings.database_pool_timeout_seconds
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        _connect_or_unavailable(engine)
        return engine
    if settings.database_pool != "null":
        kwargs["pool_size"] = settings.database_pool_size
        # Issue 13: no overflow. An overflow connection is closed as soon as it is returned
        # while the pool is full, so under a burst every request past the pool paid a new
        # connection (TLS negotiation, authentication, backend start): requests wait for a
        # pooled connection instead, bounded by the pool timeout below.
        kwargs["max_overflow"] = settings.database_pool_overflow
        # Issue 13: no pre-ping (one round trip per checkout, 9–11 where the floor needs 3).
        # Connections are recycled by age; a dead one fails its first statement, which
        # invalidates the pool (every older connection is replaced) and answers 503 with
        # Retry-After (app/core/exception_handlers.py, `connection_invalidated`).
        kwargs["pool_pre_ping"] = False
        kwargs["pool_recycle"] = settings.database_pool_recycle_seconds
        # Waiting for a pooled connection is bounded too (SQLAlchemy's default is 30 s).
        kwargs["pool_timeout"] = settings.database_pool_timeout_seconds
    kwargs["connect_args"] = connect_args(settings)
    engine = create_async_engine(url, **kwargs)
    _connect_or_unavailable(engine)
    return engine


def connect_args(settings: Settings) -> dict[str, Any]:
    """asyncpg's arguments for every PostgreSQL connection the service opens (the engine's, and
    the autocommit reads' own pool's: app/core/reads.py)."""
    # A slow query is cut off by the server and answered 503, never a hung worker; a server
    # that accepts TCP and never answers is given up after the connect timeout.
    return {
        "timeout": settings.database_connect_timeout_seconds,
        # Issue 13: no JIT. The planner compiles a query once its estimated cost is high (the
        # dashboards' aggregates, the open-data export) and that took 150–200 ms a statement
        # at 200,000 dossiers, for queries that then run in less: not worth it for a service.
        "server_settings": {"statement_timeout": str(settings.statement_timeout_ms), "jit": "off"},
    }


def _connect_or_unavailable(engine: AsyncEngine) -> None:
    """Any failure to open a connection is a 503 with Retry-After, never a 500.

    A refused port raises ConnectionRefusedError, a silent one TimeoutError, a dropped database
    the driver's own error: none of them is a DBAPIError. The pool keeps no broken record, so
    the next request reconnects: the service recovers when the database is back, no restart.
    """

    @event.listens_for(engine.sync_engine, "do_connect")
    def _do_connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as exc:
            logger.warning("database connection failed: %s: %s", type(exc).__name__, exc)
            raise DatabaseUnavailable() from exc


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (the pysqlite driver would defer it past the
        # first SELECT), so SAVEPOINTs and write locks behave.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # One writer at a time: take the write lock at BEGIN, so a transaction never has
        # to upgrade from read to write (the failure mode busy_timeout cannot fix). A
        # transaction declared read-only (`read_only_transaction`) begins DEFERRED: under WAL
        # it reads a snapshot and never blocks the writers (a long open-data export).
        if conn.get_execution_options().get(READ_ONLY_OPTION):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


READ_ONLY_OPTION = "guichet_read_only"


async def read_only_transaction(session: AsyncSession) -> None:
    """Declare the session's transaction read-only before its first statement: on SQLite it
    then begins DEFERRED instead of IMMEDIATE, so a long read (a streamed export, dashboards)
    does not hold the single write lock. No effect once the transaction has begun, nor on
    PostgreSQL (whose reads never block writers)."""
    if not session.in_transaction():
        await session.connection(execution_options={READ_ONLY_OPTION: True})


_TRANSACTION_INFO = "guichet.transaction"


def transaction_info(session: Session | AsyncSession) -> dict[str, Any]:
    """What the session's current transaction keeps for its own commit: the audit events it
    buffers, what its commit's listeners read before the commit (the notices' dossiers, the
    webhooks' subscriptions). Part of `session.info`, forgotten when the transaction ends,
    committed or rolled back: a keeper has nothing to clear, and nothing of a transaction
    reaches the next one of the same session."""
    return session.info.setdefault(_TRANSACTION_INFO, {})  # type: ignore[no-any-return]


_HELD = "rows.held"


def hold_rows(session: Session | AsyncSession, table: str, ids: Iterable[Any]) -> None:
    """Note that the session's transaction holds these rows of `table` locked until it ends
    (it UPDATEd them): a commit's listener that locks the rows it counts (the dashboards'
    counters, app.stats.counters) needs no statement for them. Not noted inside a savepoint,
    whose rollback would release them."""
    if session.in_nested_transaction():
        return
    transaction_info(session).setdefault(_HELD, {}).setdefault(table, set()).update(ids)


def held_rows(session: Session | AsyncSession, table: str) -> set[Any]:
    """The rows of `table` the session's transaction holds locked (`hold_rows`)."""
    return transaction_info(session).get(_HELD, {}).get(table, set())  # type: ignore[no-any-return]


@event.listens_for(Session, "after_transaction_end")
def _forget_transaction_info(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the session's own transaction, not a savepoint
        session.info.pop(_TRANSACTION_INFO, None)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


class CheckoutGate:
    """First come, first served admission of requests to the connection pool.

    Issue 13: SQLAlchemy's async pool hands a returned connection to whoever asks first, and a
    request that arrives while the woken waiter has not run yet takes it (asyncio.Queue lets
    newcomers barge); the waiter then queues again at the back. Under load (64 clients, 10
    connections) some requests starved past the pool timeout and answered 503 although the
    service was merely busy, and the p99 latency was the timeout's. The gate admits at most as
    many requests as the pool holds connections, in arrival order (asyncio.Semaphore is FIFO
    and refuses barging since Python 3.11), so the pool itself never makes anyone wait. Its
    wait is bounded by the same pool timeout, and answered with the same 503.
    """

    def __init__(self, slots: int, timeout: float) -> None:
        self.slots = slots
        self._slots = asyncio.Semaphore(slots)
        self._timeout = timeout

    @classmethod
    def for_engine(cls, engine: AsyncEngine, settings: Settings) -> CheckoutGate | None:
        """A gate as wide as the engine's queue pool; None for SQLite and the null pool (one
        connection per checkout: nothing to queue for)."""
        if engine.dialect.name == "sqlite" or settings.database_pool == "null":
            return None
        slots = settings.database_pool_size + settings.database_pool_overflow
        return cls(slots, settings.database_pool_timeout_seconds)

    def admitted(self) -> CheckoutGate:
        """`async with gate.admitted():` a slot held for the block. The gate is its own context
        manager (it keeps nothing of one admission): a generator's context manager cost an
        object, a generator and two more frames on every request (issue 28)."""
        return self

    async def __aenter__(self) -> None:
        try:
            if self._slots.locked():  # else acquired at once: no timer to arm
                async with asyncio.timeout(self._timeout):
                    await self._slots.acquire()
            else:
                await self._slots.acquire()
        except TimeoutError:
            logger.warning("database pool: no connection freed within %.1f s", self._timeout)
            raise DatabaseUnavailable() from None

    async def __aexit__(self, *_exc: object) -> None:
        self._slots.release()


@asynccontextmanager
async def transaction_scope(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Commit if the block returned, roll back if it raised."""
    try:
        yield session
    except BaseException:
        await session.rollback()
        raise
    else:
        await session.commit()


class ServiceClock(SQLModel, table=True):
    """The service clock's offset from real time, fixed at the database's first start (one row).

    R-ELIG-8: see `app.core.clock.settle_offset` for what is fixed when, and why it is kept.
    """

    __tablename__ = "service_clock"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: int = Field(default=1, primary_key=True)
    offset_us: int = Field(sa_type=BigInteger, description="Décalage en microsecondes (0 : réel).")
    clock_start: datetime | None = Field(default=None, sa_type=UTCDateTime)
    fixed_at: datetime = Field(sa_type=UTCDateTime)  # real time, when the offset was fixed


_MICROSECOND = timedelta(microseconds=1)


async def load_clock(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> Clock:
    """The database's clock: the stored offset, or the one fixed now and stored (first start).

    Raises ServiceUnavailable (503, migrations-pending) on a database without the table, and
    ClockRefused when production meets a shifted database.
    """
    for attempt in range(2):
        try:
            async with sessionmaker() as session, session.begin():
                connection = await session.connection()
                if not await connection.run_sync(
                    lambda c: inspect(c).has_table(ServiceClock.__tablename__)
                ):
                    raise ServiceUnavailable(
                        "La base n'est pas à la dernière migration : lancez "
                        "`alembic upgrade head`.",
                        code="migrations-pending",
                    )
                row = await session.get(ServiceClock, 1)
                real_now = datetime.now(UTC)  # the offset is measured against real time
                offset = settle_offset(
                    None if row is None else row.offset_us * _MICROSECOND,
                    settings.clock_start,
                    real_now=real_now,
                    production=settings.environment == "production",
                )
                if row is None:
                    session.add(
                        ServiceClock(
                            offset_us=offset // _MICROSECOND,
                            clock_start=settings.clock_start,
                            fixed_at=real_now,
                        )
                    )
                elif settings.clock_start is not None and row.clock_start != settings.clock_start:
                    logger.warning(
                        "GUICHET_CLOCK_START=%s ignored: this database's clock was fixed at its "
                        "first start (%s, offset %s) and runs on from there",
                        settings.clock_start.isoformat(),
                        row.clock_start.isoformat() if row.clock_start else "real time",
                        offset,
                    )
            return Clock(offset)
        except IntegrityError:
            if attempt:
                raise
            # Another instance fixed it first: read what it stored.
    raise AssertionError("unreachable")


async def start_clock(app: FastAPI) -> None:
    """At startup: fix or read the clock. A database that cannot be reached yet (or is not
    migrated) is retried at the first request; a refused clock stops the service."""
    try:
        app.state.clock = await load_clock(app.state.sessionmaker, app.state.settings)
    except ClockRefused:
        raise
    except (SQLAlchemyError, OSError, ServiceUnavailable) as exc:
        logger.warning("service clock not read at startup (%s): retried at the first request", exc)


# A development server rereads its database's offset at most this often, so that `python -m
# app clock set|advance` (app.core.clock_moves) reaches it without a restart. Only there: tests
# and production read it once (no statement is added to the requests they count).
CLOCK_REREAD_SECONDS = 2.0


async def _reread_clock(state: Any) -> None:
    """Development: the stored offset again, once every CLOCK_REREAD_SECONDS (one SELECT)."""
    loop_time = asyncio.get_running_loop().time()
    if loop_time < getattr(state, "clock_reread_at", 0.0):
        return
    state.clock_reread_at = loop_time + CLOCK_REREAD_SECONDS
    try:
        async with state.sessionmaker() as session:
            row = await session.get(ServiceClock, 1)
    except (SQLAlchemyError, OSError) as exc:  # keep the clock read before
        logger.warning("service clock not reread (%s)", exc)
        return
    if row is not None:
        state.clock = Clock(row.offset_us * _MICROSECOND)


async def get_clock(request: Request) -> Clock:
    """The service's clock (`app.state.clock`, read from the database once; a development
    server rereads it every CLOCK_REREAD_SECONDS).

    The one dependency tests override (`app.dependency_overrides[get_clock]`) to run the
    programme's dates; `use_request_clock` makes it current for the request.
    """
    state = request.app.state
    if state.clock is not None and state.settings.environment not in ("test", "production"):
        await _reread_clock(state)
    if state.clock is None:
        try:
            state.clock = await load_clock(state.sessionmaker, state.settings)
        except ClockRefused as exc:
            # Met only here when the database was unreachable at startup: refuse to serve
            # (503, never a 500), as the startup would have refused to start.
            logger.critical("service clock refused: %s", exc)
            raise ServiceUnavailable(
                "L'horloge enregistrée dans cette base est décalée du temps réel (démonstration) : "
                "le service refuse de la servir en production.",
                code="clock-refused",
            ) from exc
    return state.clock  # type: ignore[no-any-return]


async def request_clock(request: Request) -> Clock:
    """`get_clock`, or what a test put in its place (`app.dependency_overrides[get_clock]`,
    called with no argument), for a dependency that reads the clock itself instead of declaring
    `ClockDep`: one dependency less for FastAPI to solve on every hot read (issue 28)."""
    override = request.app.dependency_overrides.get(get_clock)
    if override is None:
        return await get_clock(request)
    clock = override()
    return await clock if isawaitable(clock) else clock  # type: ignore[no-any-return]


async def use_request_clock(clock: Annotated[Clock, Depends(get_clock)]) -> Clock:
    """Business now/today of this request, model defaults included, read this clock."""
    use_clock(clock)
    return clock


RequestClock = Annotated[Clock, Depends(use_request_clock)]
# The connection and session dependencies make the clock current themselves (`use_clock`):
# one dependency less to solve on every request, twice when a route's sub-dependency takes the
# same connection again (FastAPI walks a cached dependency's own dependencies before its
# cache; issue 28). Tests still override `get_clock`.
ClockDep = Annotated[Clock, Depends(get_clock)]


async def get_session(request: Request, clock: ClockDep) -> AsyncIterator[AsyncSession]:
    """One session and one transaction per request, committed before the response is sent.

    The request's clock is made current first, so every timestamp written reads it.
    """
    use_clock(clock)
    async with _request_session(request, gated=True) as session:
        yield session


async def get_streaming_session(request: Request, clock: ClockDep) -> AsyncIterator[AsyncSession]:
    """The session of a request whose body streams for long (a document upload, issue 24): not
    admitted by the checkout gate, whose slots bound the connections held, since this one holds
    none while its body arrives: its service commits its first short transaction (the scope
    check) before reading the body, which returns the connection to the pool, and writes in a
    second one. A slow client then holds neither a connection nor a gate slot (nor SQLite's
    lock): ten uploads at 1 MB/s no longer starve every other request of the pool."""
    use_clock(clock)
    async with _request_session(request, gated=False) as session:
        yield session


@asynccontextmanager
async def write_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The session of a lean write (`app.auth.dependencies.write_access`, issue 28): the one
    `get_session` gives, its transaction committed when the block returns; the request's clock
    made current by the caller. `app.state.write_session` (tests put theirs)."""
    async with _request_session(request, gated=True) as session:
        yield session


@asynccontextmanager
async def _request_session(request: Request, *, gated: bool) -> AsyncIterator[AsyncSession]:
    gate: CheckoutGate | None = request.app.state.checkout_gate if gated else None
    async with (
        gate.admitted() if gate is not None else nullcontext(),
        request.app.state.sessionmaker() as session,
        transaction_scope(session) as scoped,
    ):
        # Read by rules that judge differently in production (R-DOC-1: an unscanned document).
        session.info[PRODUCTION] = request.app.state.settings.environment == "production"
        if (
            request.method in _READ_METHODS
            and session.bind.dialect.name == "postgresql"
            and not request.url.path.startswith(_SNAPSHOT_READS)
        ):
            # Issue 13: a read runs its statements in autocommit (no BEGIN and COMMIT round
            # trips: 3 round trips become 1 for a one-statement read). Each statement reads
            # its own snapshot; the reads that take two statements (a dossier, then its
            # funding lines) read rows that only their own dossier's writes change.
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield scoped


PRODUCTION = "production"
"""The key of `session.info` that says whether a request's session serves production."""

_READ_METHODS = frozenset({"GET", "HEAD"})
# Reads that need one snapshot across statements or a server-side cursor (which asyncpg opens
# only inside a transaction): the dashboards, the streamed open-data export, the audit chain
# (its verification reads the head and the events in one snapshot) and sign-in (whose GET
# login and callback write their state and one-time code, and audit in a transaction).
_SNAPSHOT_READS = (
    "/api/v1/stats",
    "/api/v1/open-data",
    "/api/v1/audit-events",
    "/api/v1/auth",
    "/api/v1/documents",  # a download audits who read it (R-DOC-3), in a transaction
)


UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE


def is_unique_violation(exc: IntegrityError) -> bool:
    """A UNIQUE or PRIMARY KEY constraint refused the row (PostgreSQL: SQLSTATE 23505;
    SQLite: « UNIQUE constraint failed »), not a NOT NULL, CHECK or foreign key."""
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code is not None:
        return bool(code == UNIQUE_VIOLATION)
    text = str(orig).lower()
    return "unique constraint" in text or "duplicate key" in text


async def add_unique(session: AsyncSession, row: Any, error: AppError) -> None:
    """Insert `row` now, in a savepoint: if a UNIQUE or PRIMARY KEY constraint refuses it (a
    concurrent request created the same natural key first), raise `error` (a 409 or a 412
    naming the rule) instead of a 500; the request's transaction stays usable. Issue 23."""
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise error from exc


# scope="function": commit/rollback run before the response goes out, so a failed commit
# can never hide behind a 2xx already sent.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
StreamingSessionDep = Annotated[AsyncSession, Depends(get_streaming_session, scope="function")]
