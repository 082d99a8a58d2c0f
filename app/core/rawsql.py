"""A hot statement run on asyncpg's own connection (issue 28), PostgreSQL only: a lean read's
one statement, and a submission's and a write's commit's (the dossier's read, its guarded
UPDATE with its history row; the audit chain's head locked and moved, the counters read and
upserted).

Why: a Core statement executed by SQLAlchemy costs 0.17 ms of CPU (its execution context, the
compiled cache's key, the DBAPI adapter's cursor and its prepared-statement cache, the result's
metadata) against 0.06 ms straight through asyncpg, on reads whose whole budget is a few tenths
of a millisecond (the dossier's statement: 0.20 ms through SQLAlchemy, 0.10 ms here). So the
hot reads (the dossier, its eligibility and its documents' check of R-DOC-1, the envelopes, the
ledger and the list pages) keep their statement as SQLAlchemy Core, built once per shape by
their repository with its scope clause (R-ACL-1 written once, there), and run it here:
compiled ONCE per statement shape and dialect with the engine's asyncpg dialect (paramstyle
numeric_dollar: `$1…`, its positional parameters in the compiled order, each through the bind
processor SQLAlchemy would apply), then `fetch`/`fetchrow` on the driver connection of the
request's pooled connection, whose statement cache keeps it prepared. The rows are SQLAlchemy
`Row`s with the same keys and values: asyncpg decodes json and jsonb with the codecs
SQLAlchemy's dialect sets on every connection it opens, and each column's result processor,
asked of its type for the column's PostgreSQL type as SQLAlchemy does, is applied (none, on
today's statements: the types of app/core/types.py read asyncpg's values as they are).

What stays as SQLAlchemy would do it:
- Consistency: the driver connection is the request's connection. On an autocommit read
  connection each statement reads one snapshot of committed rows; on a snapshot connection
  (REPEATABLE READ, READ ONLY) the transaction SQLAlchemy's adapter would begin at its first
  statement is begun here when the raw statement comes first, so that every statement of the
  request, raw or not, reads that one snapshot (tests/api/budgets/test_rawsql.py).
- Errors: a driver error is translated by the dialect and raised as SQLAlchemy's `DBAPIError`,
  the connection invalidated on a disconnect, so the same handlers answer (503, Retry-After).
- Statement counts: the engine's `before_cursor_execute` and `after_cursor_execute` listeners
  see each statement (tests/querycount.py counts them); with none registered, nothing is paid.
- Writes: the statement runs in the session's transaction, on its connection (begun as
  SQLAlchemy's adapter begins it, when it is the first); a commit's listeners, which run in
  SQLAlchemy's greenlet, call `fetchrow_sync`/`fetch_sync`, which await the driver as SQLAlchemy's
  adapter does (`await_only`). Measured alternately in one process: 0.16 ms less CPU for the
  submission's dossier read, 0.15 for its UPDATE, 0.35 to 0.42 for a write's commit (four
  statements) (tests/api/projects/test_submission_write.py: both executions, end to end).

SQLite, and a statement whose compiled form is not final (expanding IN, literal_execute,
escaped bind names) or whose result keys repeat, keep today's Core execution.

An autocommit read on PostgreSQL has no SQLAlchemy connection at all (`PooledRead`: asyncpg's,
from the reads' own pool, app/core/reads.py): the same statements run on it the same way, its
listeners are the engine's, its errors are translated the same way, and a statement that is not
final is expanded per call by SQLAlchemy's own step (`PooledRead.execute`).

This leans on SQLAlchemy's internals (the compiled statement's positional binds and result
columns, the asyncpg adapter's transaction and error translation), pinned in requirements.lock
(2.1.9) and exercised on PostgreSQL by the test above and the bench's byte comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import Executable, Row
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.engine import Connection, Dialect, IteratorResult, Result
from sqlalchemy.engine.result import SimpleResultMetaData
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.util import await_only, greenlet_spawn
from sqlalchemy.util.typing import TupleAny, Unpack

_REQUIRED: Any = object()  # a bind parameter the caller must give
_CACHE_LIMIT = 2048  # shapes are few (built once each); a bound all the same


@dataclass(slots=True)
class _Shape:
    """A statement compiled once for a dialect: its SQL, how to order its parameters and how
    to build its rows."""

    sql: str
    binds: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]  # name, default, processor
    types: tuple[Any, ...]  # each result column's SQLAlchemy type
    metadata: SimpleResultMetaData
    key_to_index: dict[Any, int]
    processors: Any = None  # each column's processor, or None: none at all
    described: bool = False  # `processors` worked out (needs the columns' PostgreSQL types)


_shapes: dict[tuple[Executable, Dialect], _Shape | None] = {}


def _compile(stmt: Executable, dialect: Dialect) -> _Shape | None:
    """`stmt` compiled for `dialect`; None when its SQL is not final at compile time."""
    compiled = stmt.compile(dialect=dialect)  # type: ignore[attr-defined]
    if (
        compiled.post_compile_params
        or compiled.literal_execute_params
        or compiled.escaped_bind_names
        or not compiled.positional
    ):
        return None
    keys = [column.keyname for column in compiled._result_columns]
    if len(set(keys)) != len(keys):
        return None
    processors = compiled._bind_processors
    binds = []
    for name in compiled.positiontup or ():
        bind = compiled.binds[name]
        default = _REQUIRED if bind.required else bind.effective_value
        binds.append((name, default, processors.get(name)))
    metadata = SimpleResultMetaData(keys)
    return _Shape(
        sql=compiled.string,
        binds=tuple(binds),
        types=tuple(column.type for column in compiled._result_columns),
        metadata=metadata,
        key_to_index=metadata._key_to_index,
    )


def _shape(stmt: Executable, dialect: Dialect) -> _Shape | None:
    key = (stmt, dialect)
    if key in _shapes:  # None is cached too: a statement that keeps Core's execution
        return _shapes[key]
    if len(_shapes) >= _CACHE_LIMIT:
        _shapes.clear()
    shape = _shapes[key] = _compile(stmt, dialect)
    return shape


def _arguments(shape: _Shape, params: Mapping[str, Any]) -> list[Any]:
    arguments = []
    for name, default, process in shape.binds:
        value = params[name] if default is _REQUIRED or name in params else default
        arguments.append(value if process is None else process(value))
    return arguments


async def _describe(shape: _Shape, driver: Any, dialect: Dialect) -> None:
    """Each column's result processor for the PostgreSQL type the statement returns (asked
    of its SQLAlchemy type as SQLAlchemy asks it), once per shape: None when there is none."""
    attributes = (await driver.prepare(shape.sql)).get_attributes()
    found = [
        type_._cached_result_processor(dialect, attribute.type.oid)
        for type_, attribute in zip(shape.types, attributes, strict=True)
    ]
    shape.processors = found if any(found) else None
    shape.described = True


async def _run(
    connection: AsyncConnection, shape: _Shape, params: Mapping[str, Any], one: bool
) -> Any:
    sync: Any = connection.sync_connection
    # The pooled connection checked out (`get_raw_connection()` without its greenlet switch, a
    # tenth of what this saves); asked of SQLAlchemy when it must be revalidated or refused.
    fairy = sync._dbapi_connection
    if fairy is None:
        fairy = await connection.get_raw_connection()
    arguments = _arguments(shape, params)
    try:
        return await _on_driver(sync, fairy, shape, arguments, one)
    except _DriverError as failed:
        await greenlet_spawn(
            _raise_translated, sync, failed.adapted, failed.error, shape, arguments
        )


def _run_in_greenlet(sync: Connection, shape: _Shape, params: Mapping[str, Any], one: bool) -> Any:
    """`_run` for a caller that runs in SQLAlchemy's greenlet (a session's `before_commit`
    listener): the same statement, its coroutine awaited as SQLAlchemy's adapter awaits its
    own."""
    fairy: Any = sync.connection  # checked out (revalidated or refused) as SQLAlchemy does
    arguments = _arguments(shape, params)
    try:
        return await_only(_on_driver(sync, fairy, shape, arguments, one))
    except _DriverError as failed:
        _raise_translated(sync, failed.adapted, failed.error, shape, arguments)


class _DriverError(Exception):
    """asyncpg's `error`, raised by the connection `adapted`, to translate (`_raise_translated`,
    which may close the connection: in the greenlet)."""

    def __init__(self, adapted: Any, error: Exception) -> None:
        self.adapted, self.error = adapted, error


async def _on_driver(sync: Any, fairy: Any, shape: _Shape, arguments: list[Any], one: bool) -> Any:
    """The statement on the checked-out connection `fairy` of `sync`, its events fired."""
    adapted: Any = fairy.dbapi_connection
    driver: Any = fairy.driver_connection
    events = sync._has_events or sync.engine._has_events
    if events:
        for before in sync.dispatch.before_cursor_execute:
            before(sync, None, shape.sql, arguments, None, False)
    try:
        if adapted._transaction is None and adapted.isolation_level != "autocommit":
            # A transaction whose first statement this is (a snapshot read's, a write's): begun
            # as SQLAlchemy's adapter begins it before its first statement.
            await adapted._start_transaction()
        if not shape.described:
            await _describe(shape, driver, sync.dialect)
        found = await (driver.fetchrow if one else driver.fetch)(shape.sql, *arguments)
    except Exception as error:
        raise _DriverError(adapted, error) from error
    if events:
        for after in sync.dispatch.after_cursor_execute:
            after(sync, None, shape.sql, arguments, None, False)
    return found


def _raise_translated(
    sync: Any, adapted: Any, error: Exception, shape: _Shape, arguments: list[Any]
) -> None:
    """Raise `error` as SQLAlchemy would have: translated to the dialect's DBAPI error, then
    wrapped (`DBAPIError`) with the connection invalidated on a disconnect (which may close it:
    called in a greenlet, as SQLAlchemy's own execution is)."""
    try:
        adapted._handle_exception(error)
    except Exception as translated:
        if not isinstance(translated, sync.dialect.loaded_dbapi.Error):
            raise
        sync._handle_dbapi_exception(translated, shape.sql, arguments, None, None)
    raise error  # unreachable: both above raise


class PooledRead:
    """An autocommit read's connection taken from the reads' own asyncpg pool (PostgreSQL:
    `app.core.reads.ReadPool`), without SQLAlchemy's connection, pool and greenlet: its
    statements run straight on the driver, as `fetchrow` and `fetch` run them on a pooled
    SQLAlchemy connection, with the same rows, the same listeners fired and the same errors
    (a driver error translated to SQLAlchemy's `DBAPIError`, `connection_invalidated` when the
    connection is gone: the same handlers answer 503 with Retry-After). `execute` runs any other
    statement (a post-compiled IN list included, expanded as SQLAlchemy expands it) and returns
    a buffered `Result`."""

    __slots__ = ("driver", "engine", "dialect", "_engine")

    def __init__(self, driver: Any, engine: AsyncEngine) -> None:
        self.driver, self.engine, self.dialect = driver, engine, engine.dialect
        self._engine = engine.sync_engine  # its listeners

    async def _records(
        self, sql: str, arguments: list[Any], shape: _Shape | None, one: bool
    ) -> Any:
        engine = self._engine
        events = engine._has_events
        if events:  # `None` for the connection and cursor: neither is SQLAlchemy's
            for before in engine.dispatch.before_cursor_execute:
                before(None, None, sql, arguments, None, False)
        try:
            if shape is not None and not shape.described:
                await _describe(shape, self.driver, self.dialect)
            found = await (self.driver.fetchrow if one else self.driver.fetch)(sql, *arguments)
        except Exception as error:
            self._raise_translated(error, sql, arguments)
        if events:
            for after in engine.dispatch.after_cursor_execute:
                after(None, None, sql, arguments, None, False)
        return found

    def _raise_translated(self, error: Exception, sql: str, arguments: list[Any]) -> None:
        """`error` as SQLAlchemy raises it: the driver's error translated to the dialect's DBAPI
        error, wrapped in `DBAPIError` (invalidated when the connection is gone)."""
        dbapi: Any = self.dialect.loaded_dbapi
        gone = self.closed()
        try:
            AsyncAdapt_asyncpg_connection._handle_exception_no_connection(dbapi, error)
        except dbapi.Error as translated:
            raise DBAPIError.instance(
                sql,
                arguments,
                translated,
                dbapi.Error,
                connection_invalidated=gone,
                dialect=self.dialect,
            ) from error
        raise error  # not the driver's: as SQLAlchemy would let it through

    def closed(self) -> bool:
        """Whether the connection is gone (the pool's proxy of a connection the server dropped
        is detached at once: its every call then refuses, as released)."""
        try:
            return bool(self.driver.is_closed())
        except asyncpg.InterfaceError:
            return True

    async def fetchrow(self, stmt: Executable, params: Mapping[str, Any]) -> Row[Any] | None:
        shape = _shape(stmt, self.dialect)
        if shape is None or not shape.types:
            return (await self.execute(stmt, params)).first()
        record = await self._records(shape.sql, _arguments(shape, params), shape, one=True)
        return _row(shape, record)

    async def fetch(self, stmt: Executable, params: Mapping[str, Any]) -> Sequence[Row[Any]]:
        shape = _shape(stmt, self.dialect)
        if shape is None or not shape.types:
            return (await self.execute(stmt, params)).all()
        return _rows(
            shape, await self._records(shape.sql, _arguments(shape, params), shape, one=False)
        )

    async def execute(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Result[Unpack[TupleAny]]:
        """`stmt`'s rows, buffered (as `AsyncConnection.execute` with a buffered result)."""
        given = dict(params or {})
        shape = _shape(stmt, self.dialect)
        if shape is not None and shape.types:
            records = await self._records(shape.sql, _arguments(shape, given), shape, one=False)
            metadata = SimpleResultMetaData(list(shape.metadata.keys), _processors=shape.processors)
            return IteratorResult(metadata, iter(records))
        # Not final at compile time (an IN list of the request's values), or textual: expanded
        # by SQLAlchemy's own step, its processors applied, then its columns' processors as
        # above (per expanded statement); a textual statement's keys are the driver's.
        compiled: Any = stmt.compile(dialect=self.dialect)  # type: ignore[attr-defined]
        expanded = compiled._process_parameters_for_postcompile(compiled.construct_params(given))
        processors = expanded.processors
        arguments = [
            value if (process := processors.get(name)) is None else process(value)
            for name, value in zip(
                expanded.positiontup or (), expanded.positional_parameters, strict=True
            )
        ]
        columns = compiled._result_columns
        if not columns:
            records = await self._records(expanded.statement, arguments, None, one=False)
            keys = list(records[0].keys()) if records else []
            return IteratorResult(SimpleResultMetaData(keys), iter(records))
        expanded_shape = _expanded_shape(expanded.statement, columns, self.dialect)
        records = await self._records(expanded.statement, arguments, expanded_shape, one=False)
        metadata = SimpleResultMetaData(
            list(expanded_shape.metadata.keys), _processors=expanded_shape.processors
        )
        return IteratorResult(metadata, iter(records))


_expanded: dict[tuple[str, Dialect], _Shape] = {}


def _expanded_shape(sql: str, columns: Sequence[Any], dialect: Dialect) -> _Shape:
    """The shape of an expanded statement (`PooledRead.execute`), by its SQL: its columns'
    processors worked out once (`_describe`)."""
    key = (sql, dialect)
    found = _expanded.get(key)
    if found is None:
        if len(_expanded) >= _CACHE_LIMIT:
            _expanded.clear()
        metadata = SimpleResultMetaData([column.keyname for column in columns])
        found = _expanded[key] = _Shape(
            sql=sql,
            binds=(),
            types=tuple(column.type for column in columns),
            metadata=metadata,
            key_to_index=metadata._key_to_index,
        )
    return found


ReadConnection = AsyncConnection | PooledRead
"""What a lean read runs its statements on: a pooled SQLAlchemy connection, or on PostgreSQL an
autocommit read's own (`PooledRead`)."""


def _native(connection: AsyncConnection | Connection) -> bool:
    return connection.dialect.driver == "asyncpg"


def _row(shape: _Shape, record: Any) -> Row[Any] | None:
    """A driver's record as the `Row` SQLAlchemy would give (None for no record)."""
    if record is None:
        return None
    return Row(shape.metadata, shape.processors, shape.key_to_index, record)


def _rows(shape: _Shape, records: Sequence[Any]) -> list[Row[Any]]:
    metadata, processors, key_to_index = shape.metadata, shape.processors, shape.key_to_index
    return [Row(metadata, processors, key_to_index, record) for record in records]


async def fetchrow(
    connection: ReadConnection, stmt: Executable, params: Mapping[str, Any]
) -> Row[Any] | None:
    """The first row of `stmt` executed with `params`, None when it has none (as
    `(await connection.execute(stmt, params)).first()`)."""
    if isinstance(connection, PooledRead):
        return await connection.fetchrow(stmt, params)
    shape = _shape(stmt, connection.dialect) if _native(connection) else None
    if shape is None:
        return (await connection.execute(stmt, dict(params))).first()
    return _row(shape, await _run(connection, shape, params, one=True))


async def fetch(
    connection: ReadConnection, stmt: Executable, params: Mapping[str, Any]
) -> Sequence[Row[Any]]:
    """Every row of `stmt` executed with `params` (as `(await connection.execute(stmt,
    params)).all()`)."""
    if isinstance(connection, PooledRead):
        return await connection.fetch(stmt, params)
    shape = _shape(stmt, connection.dialect) if _native(connection) else None
    if shape is None:
        return (await connection.execute(stmt, dict(params))).all()
    return _rows(shape, await _run(connection, shape, params, one=False))


def fetchrow_sync(
    connection: Connection, stmt: Executable, params: Mapping[str, Any]
) -> Row[Any] | None:
    """`fetchrow` for a session's listener that runs in SQLAlchemy's greenlet, on the session's
    connection (`session.connection()`): the audit chain's head locked and moved, the counters'
    upsert, at a write's commit (issue 28). None also for a statement that returns no rows."""
    shape = _shape(stmt, connection.dialect) if _native(connection) else None
    if shape is None:
        result = connection.execute(stmt, dict(params))
        return result.first() if result.returns_rows else None  # None: a write without RETURNING
    return _row(shape, _run_in_greenlet(connection, shape, params, one=True))


def fetch_sync(
    connection: Connection, stmt: Executable, params: Mapping[str, Any]
) -> Sequence[Row[Any]]:
    """`fetch` for a session's listener that runs in SQLAlchemy's greenlet (`fetchrow_sync`):
    the counters' read of the dossiers a write touched (issue 28)."""
    shape = _shape(stmt, connection.dialect) if _native(connection) else None
    if shape is None:
        return connection.execute(stmt, dict(params)).all()
    return _rows(shape, _run_in_greenlet(connection, shape, params, one=False))
