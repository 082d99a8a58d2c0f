"""Engine, sessions and the one-transaction-per-request dependency.

SQLite (embedded default) and PostgreSQL run the same code. SQLite gets WAL, a busy timeout,
foreign keys and `BEGIN IMMEDIATE` for every transaction (RELIABILITY.md §3: a deferred BEGIN
that upgrades to a write fails with "database is locked" under concurrency).
"""

from __future__ import annotations

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
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    if settings.database_pool != "null":
        kwargs["pool_size"] = settings.database_pool_size
        kwargs["pool_pre_ping"] = True
    # A slow query is cut off by the server and answered 503, never a hung worker.
    kwargs["connect_args"] = {
        "server_settings": {"statement_timeout": str(settings.statement_timeout_ms)}
    }
    return create_async_engine(url, **kwargs)


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
