"""Engine, sessions and the one-transaction-per-request dependency.

SQLite (embedded default) and PostgreSQL run the same code. SQLite gets WAL, a busy timeout,
foreign keys and `BEGIN IMMEDIATE` for every transaction (RELIABILITY.md §3: a deferred BEGIN
that upgrades to a write fails with "database is locked" under concurrency).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import MetaData, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

from app.core.config import Settings
from app.core.errors import DatabaseUnavailable

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


def make_engine(settings: Settings) -> AsyncEngine:
    """Build the async engine for the configured URL, with per-backend settings."""
    url = make_url(settings.database_url)
    kwargs: dict[str, Any] = {}
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
        kwargs["pool_pre_ping"] = True
        # Waiting for a pooled connection is bounded too (SQLAlchemy's default is 30 s).
        kwargs["pool_timeout"] = settings.database_pool_timeout_seconds
    # A slow query is cut off by the server and answered 503, never a hung worker; a server
    # that accepts TCP and never answers is given up after the connect timeout.
    kwargs["connect_args"] = {
        "timeout": settings.database_connect_timeout_seconds,
        "server_settings": {"statement_timeout": str(settings.statement_timeout_ms)},
    }
    engine = create_async_engine(url, **kwargs)
    _connect_or_unavailable(engine)
    return engine


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
        # to upgrade from read to write (the failure mode busy_timeout cannot fix).
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


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


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session and one transaction per request, committed before the response is sent."""
    async with request.app.state.sessionmaker() as session, transaction_scope(session) as scoped:
        yield scoped


# scope="function": commit/rollback run before the response goes out, so a failed commit
# can never hide behind a 2xx already sent.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
