"""Issue 28: the lean reads' statements run on asyncpg's own connection (app/core/rawsql.py)
answer what SQLAlchemy's execution answers, byte for byte, on one snapshot, counted, with its
errors; SQLite keeps SQLAlchemy's execution."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.requests import Request

from app.auth.principal import Principal
from app.core import rawsql
from app.core.config import Settings
from app.core.db import make_engine
from app.core.errors import DatabaseUnavailable
from app.core.rawsql import PooledRead
from app.core.reads import ReadPool, read_connection
from app.programme.models import Programme
from app.projects import repository
from tests.conftest import Actors
from tests.querycount import count_statements
from tests.support import backend_url

postgresql = pytest.mark.skipif(backend_url() is None, reason="asyncpg's connection")


def _request(app: FastAPI) -> Request:
    return Request({"type": "http", "app": app, "method": "GET", "path": "/", "headers": []})


def _core(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every statement of `rawsql` through SQLAlchemy's execution, as on SQLite."""
    monkeypatch.setattr(rawsql, "_native", lambda _connection: False)


@postgresql
async def test_the_reads_answer_the_bytes_of_sqlalchemys_execution(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    granted: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each lean read, by callers of every scope (R-ACL-1), in scope and out of it: the same
    status and bytes whether its statement runs on asyncpg's connection or through SQLAlchemy
    (a dossier with lines, facts and a grant; an envelope with movements)."""
    paths = [
        f"/api/v1/projects/{granted}",
        f"/api/v1/projects/{granted}/eligibility",
        "/api/v1/projects",
        "/api/v1/projects?status=accepted&departement=13",
        "/api/v1/envelopes",
        "/api/v1/envelopes/13",
        "/api/v1/envelopes/13/ledger",
        "/api/v1/envelopes/13/ledger?limit=1",
        "/api/v1/envelopes/75/ledger",
    ]
    callers = (actors.dinum, actors.pref13, actors.pref75, actors.cand_a, actors.cand_b)

    async def answers() -> list[tuple[int, bytes]]:
        found = []
        for who in callers:
            for path in paths:
                response = await client.get(path, headers=headers(who))
                # A problem's request_id is the request's own.
                content = re.sub(rb'"request_id":"\w+"', b"", response.content)
                found.append((response.status_code, content))
        return found

    raw = await answers()
    assert {status for status, _ in raw} >= {200, 404}
    _core(monkeypatch)
    assert await answers() == raw


@postgresql
async def test_a_row_holds_the_values_and_types_of_sqlalchemys_row(
    session: AsyncSession, actors: Actors, granted: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    """UUIDs, dates, aware timestamps, JSON decoded, booleans and the facts' columns: the same
    keys, values and types (asyncpg's codecs are those SQLAlchemy's dialect sets)."""
    connection = await session.connection()

    async def rows(who: Principal) -> list[Any]:
        dossier = await repository.read_dossier_row(connection, who, granted)
        report = await repository.read_dossier_row(connection, who, granted, report=True)
        page = await repository.summary_page(connection, who, {}, None, 10)
        return [dossier, report, *page]

    for who in (actors.dinum, actors.pref13, actors.cand_a):
        raw = await rows(who)
        monkeypatch.setattr(rawsql, "_native", lambda _connection: False)
        core = await rows(who)
        monkeypatch.undo()
        assert raw and len(raw) == len(core)
        for mine, theirs in zip(raw, core, strict=True):
            assert list(mine._mapping) == list(theirs._mapping)
            assert tuple(mine) == tuple(theirs)
            assert [type(v) for v in mine] == [type(v) for v in theirs]
    assert raw[0]._mapping["expense_lines"][0]["category"] == "development"  # decoded JSON
    assert raw[0].created_at.tzinfo is not None


async def test_a_statement_is_counted_like_sqlalchemys(engine: AsyncEngine, app: FastAPI) -> None:
    """The statement-count tests see a statement run on asyncpg's connection (tests/querycount.py
    listens to `before_cursor_execute`), on both databases."""
    stmt = select(Programme.code).where(Programme.code == "FITN7-AXE3")
    async with read_connection(_request(app), snapshot=False) as connection:
        with count_statements(engine) as log:
            row = await rawsql.fetchrow(connection, stmt, {})
            rows = await rawsql.fetch(connection, stmt, {})
    assert row is not None and row.code == "FITN7-AXE3" and [r.code for r in rows] == [row.code]
    assert len(log.data) == 2 and all("FROM programme" in s for s in log.data)


@postgresql
async def test_a_snapshot_read_stays_in_its_one_transaction(app: FastAPI) -> None:
    """On a snapshot connection a raw first statement begins its REPEATABLE READ, READ ONLY
    transaction, and SQLAlchemy's next statement reads in the same one; on an autocommit one
    each statement is its own snapshot."""
    instant = select(
        func.now().label("at"),
        func.current_setting("transaction_isolation").label("isolation"),
        func.current_setting("transaction_read_only").label("read_only"),
    )
    async with read_connection(_request(app), snapshot=True) as connection:
        first = await rawsql.fetchrow(connection, instant, {})
        assert first is not None and (first.isolation, first.read_only) == ("repeatable read", "on")
        await asyncio.sleep(0.01)
        assert (await connection.execute(select(func.now()))).scalar_one() == first.at
        again = await rawsql.fetchrow(connection, instant, {})
        assert again is not None and again.at == first.at
    async with read_connection(_request(app), snapshot=False) as connection:
        first = await rawsql.fetchrow(connection, instant, {})
        await asyncio.sleep(0.01)
        second = await rawsql.fetchrow(connection, instant, {})
        assert first is not None and second is not None and second.at > first.at


@postgresql
async def test_a_read_never_sees_a_half_done_write(app: FastAPI, engine: AsyncEngine) -> None:
    """A write in progress on another connection stays invisible to a raw read until it
    commits."""
    version = select(Programme.version).where(Programme.code == "FITN7-AXE3")
    async with engine.connect() as writer:
        before = (await writer.execute(version)).scalar_one()
        await writer.execute(
            update(Programme).where(Programme.code == "FITN7-AXE3").values(version=before + 1)
        )
        async with read_connection(_request(app), snapshot=False) as connection:
            row = await rawsql.fetchrow(connection, version, {})
        assert row is not None and row.version == before
        await writer.rollback()


@postgresql
async def test_a_driver_error_is_sqlalchemys_and_a_dead_connection_is_invalidated(
    app: FastAPI, engine: AsyncEngine
) -> None:
    """A statement over the timeout raises SQLAlchemy's DBAPIError (the handlers' 503), the
    connection still serves; a connection whose backend died is invalidated, as SQLAlchemy's
    execution does (app/core/exception_handlers.py)."""
    sleep = select(func.pg_sleep(0.5))
    # An autocommit connection of the engine's (a snapshot read's, a write's take the same path;
    # an autocommit read takes the reads' own pool's: the test below).
    async with app.state.read_engines[False].connect() as connection:
        await connection.exec_driver_sql("SET statement_timeout = 50")
        with pytest.raises(DBAPIError) as timed_out:
            await rawsql.fetchrow(connection, sleep, {})
        assert "canceling statement" in str(timed_out.value.orig)
        assert not timed_out.value.connection_invalidated
        await connection.exec_driver_sql("RESET statement_timeout")
        assert await rawsql.fetchrow(connection, select(func.now()), {}) is not None
        pid = (await rawsql.fetchrow(connection, select(func.pg_backend_pid()), {}))[0]  # type: ignore[index]
        async with engine.connect() as other:
            await other.execute(select(func.pg_terminate_backend(pid)))
        with pytest.raises(DBAPIError) as dead:
            await rawsql.fetchrow(connection, select(func.now()), {})
        assert dead.value.connection_invalidated
        assert connection.invalidated


@postgresql
async def test_on_the_reads_pool_a_driver_error_is_sqlalchemys_and_a_dead_connection_replaced(
    app: FastAPI, engine: AsyncEngine
) -> None:
    """On an autocommit read's own connection (`PooledRead`, app/core/reads.py): a statement
    over the timeout is SQLAlchemy's DBAPIError (the handlers' 503) and the connection still
    serves; a dead backend is a DBAPIError with `connection_invalidated` (503 with Retry-After),
    and the next read is given a live connection."""
    sleep = select(func.pg_sleep(0.5))
    backend = select(func.pg_backend_pid())
    async with read_connection(_request(app), snapshot=False) as connection:
        assert isinstance(connection, PooledRead)
        await connection.driver.execute("SET statement_timeout = 50")
        with pytest.raises(DBAPIError) as timed_out:
            await rawsql.fetchrow(connection, sleep, {})
        assert "canceling statement" in str(timed_out.value.orig)
        assert not timed_out.value.connection_invalidated
        await connection.driver.execute("RESET statement_timeout")
        found = await rawsql.fetchrow(connection, backend, {})
        assert found is not None
        async with engine.connect() as other:
            await other.execute(select(func.pg_terminate_backend(found[0])))
        with pytest.raises(DBAPIError) as dead:
            await rawsql.fetchrow(connection, select(func.now()), {})
        assert dead.value.connection_invalidated
    async with read_connection(_request(app), snapshot=False) as connection:
        again = await rawsql.fetchrow(connection, backend, {})
        assert again is not None and again[0] != found[0]


@postgresql
async def test_a_pooled_read_gives_sqlalchemys_rows(app: FastAPI, engine: AsyncEngine) -> None:
    """`PooledRead.execute`, `fetch` and `fetchrow` give the keys, values and types that
    SQLAlchemy's execution gives: a final statement (UUIDs, JSON decoded, aware timestamps), an
    IN list of the request's values (expanded per call) and a textual statement."""
    table: Any = Programme.__table__
    everything = select(table).order_by(table.c.code)
    ids = [row.id for row in (await _engine_rows(engine, everything))]
    statements: list[tuple[Any, dict[str, Any]]] = [
        (everything, {}),
        (select(table.c.id, table.c.strands).where(table.c.id.in_(ids[:1])), {}),
        (
            select(table.c.code).where(table.c.id.in_(bindparam("ids", expanding=True))),
            {"ids": ids},
        ),
        (text("SELECT now() - now() AS nothing, 'a'::text AS letter"), {}),
    ]
    async with read_connection(_request(app), snapshot=False) as connection:
        assert isinstance(connection, PooledRead)
        for stmt, params in statements:
            theirs = await _engine_rows(engine, stmt, params)
            executed = (await connection.execute(stmt, params)).all()
            fetched = await rawsql.fetch(connection, stmt, params)
            first = await rawsql.fetchrow(connection, stmt, params)
            assert theirs and first is not None
            for mine in (executed, fetched, [first]):
                for row, their in zip(mine, theirs, strict=False):
                    assert list(row._mapping) == list(their._mapping)
                    assert tuple(row) == tuple(their)
                    assert [type(v) for v in row] == [type(v) for v in their]
            assert len(executed) == len(fetched) == len(theirs)


async def _engine_rows(engine: AsyncEngine, stmt: Any, params: dict[str, Any] | None = None) -> Any:
    async with engine.connect() as connection:
        return (await connection.execute(stmt, params or {})).all()


@postgresql
async def test_the_autocommit_reads_answer_alike_through_the_reads_pool(
    app: FastAPI, client: AsyncClient, headers: Any, actors: Actors
) -> None:
    """Issue 28: each autocommit read, end to end on the reads' own pool, answers what it answers
    on the test's SQLAlchemy connection (the same committed rows: the seeded programmes): status
    and bytes, by callers of every scope; and it did take the pool's connections."""
    unknown = uuid.uuid4()
    paths = [
        "/api/v1/projects",
        "/api/v1/projects?status=accepted&departement=13",
        f"/api/v1/projects/{unknown}",
        f"/api/v1/projects/{unknown}/eligibility",
        f"/api/v1/projects/{unknown}/grant",
        f"/api/v1/projects/{unknown}/decision",
        "/api/v1/envelopes",
        "/api/v1/envelopes?programme=nope",
        "/api/v1/envelopes/13",
        "/api/v1/envelopes/13/ledger",
    ]
    callers = (actors.dinum, actors.pref13, actors.cand_a, actors.anct)

    async def answers() -> list[tuple[str, int, bytes]]:
        found = []
        for who in callers:
            for path in paths:
                response = await client.get(path, headers=headers(who))
                content = re.sub(rb'"request_id":"\w+"', b"", response.content)
                found.append((path, response.status_code, content))
        return found

    on_the_test_connection = await answers()
    pool = app.state.read_pool
    taken = 0
    acquire = pool.acquire

    async def counted() -> PooledRead:
        nonlocal taken
        taken += 1
        return await acquire()

    overridden = app.state.read_connection
    app.state.read_connection, pool.acquire = read_connection, counted
    try:
        assert await answers() == on_the_test_connection
    finally:
        app.state.read_connection = overridden
        del pool.acquire
    assert {status for _, status, _ in on_the_test_connection} >= {200, 403, 404}
    # One connection per read, none for a caller refused before it (403).
    assert taken == sum(status != 403 for _, status, _ in on_the_test_connection)


async def test_a_database_down_is_a_503_on_the_reads_pool(settings: Settings) -> None:
    """A connection the reads' pool cannot open (a refused port) is DatabaseUnavailable: the
    503 with Retry-After of every other database refusal, never a 500."""
    if backend_url() is None:  # SQLite has no reads' pool: nothing to open
        assert await ReadPool.open(make_engine(settings), settings) is None
        return
    down = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:9/none"}
    )
    engine = make_engine(down)
    pool = await ReadPool.open(engine, down)
    assert pool is not None
    try:
        with pytest.raises(DatabaseUnavailable):
            await pool.acquire()
    finally:
        await pool.close()
        await engine.dispose()


@postgresql
async def test_in_a_listener_a_driver_error_is_sqlalchemys_and_a_dead_connection_invalidated(
    engine: AsyncEngine,
) -> None:
    """`fetchrow_sync`, as the commit's listeners call it (in SQLAlchemy's greenlet, on the
    session's connection: the audit chain's head, the counters' upsert), answers and fails as
    the async path does: a statement over the timeout is SQLAlchemy's DBAPIError and the
    transaction's connection still serves; a dead backend invalidates it."""
    sleep = select(func.pg_sleep(0.5))
    async with AsyncSession(engine) as session:

        def over_the_timeout(sync: Any) -> tuple[Any, Any]:
            connection = sync.connection()
            connection.exec_driver_sql("SAVEPOINT timing")
            connection.exec_driver_sql("SET LOCAL statement_timeout = 50")
            with pytest.raises(DBAPIError) as timed_out:
                rawsql.fetchrow_sync(connection, sleep, {})
            connection.exec_driver_sql("ROLLBACK TO SAVEPOINT timing")
            assert rawsql.fetchrow_sync(connection, update_none, {}) is None  # no rows
            return timed_out.value, rawsql.fetchrow_sync(
                connection, select(func.pg_backend_pid()), {}
            )

        update_none = update(Programme).where(Programme.code == "none such").values(version=0)
        timed_out, pid = await session.run_sync(over_the_timeout)
        assert "canceling statement" in str(timed_out.orig)
        assert not timed_out.connection_invalidated
        async with engine.connect() as other:
            await other.execute(select(func.pg_terminate_backend(pid[0])))

        def dead(sync: Any) -> Any:
            with pytest.raises(DBAPIError) as failed:
                rawsql.fetchrow_sync(sync.connection(), select(func.now()), {})
            return failed.value

        assert (await session.run_sync(dead)).connection_invalidated
