"""Rows written as a past revision's tables have them: a data migration's test seeds the
database at the migration's down revision, where today's models may hold columns that do not
exist yet (a later migration adds them). The table is reflected from the database; the test
names the values it cares about, and every other NOT NULL column gets a filler."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Date,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)


def _filler(column: Any) -> Any:
    """A value for a NOT NULL column the test does not care about."""
    kind = column.type
    if isinstance(kind, JSON):
        return []
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, DateTime):
        return datetime(2021, 3, 1, 9, tzinfo=UTC)
    if isinstance(kind, Date):
        return date(2021, 3, 1)
    if isinstance(kind, Integer | Numeric):
        return 0
    if isinstance(kind, String | Text):
        return "x"
    raise AssertionError(f"no filler for {column.table.name}.{column.name}: {kind!r}")


def insert_row(connection: Connection, name: str, /, **values: Any) -> None:
    """Insert one row into table `name` as the database has it now (`name` is positional:
    a column may be called so)."""
    sqlite = connection.dialect.name == "sqlite"
    table = Table(name, MetaData(), autoload_with=connection)
    row: dict[str, Any] = {}
    for column in table.columns:
        if column.name in values:
            value = values[column.name]
            row[column.name] = value.hex if sqlite and isinstance(value, uuid.UUID) else value
        elif not column.nullable and column.server_default is None and not column.primary_key:
            row[column.name] = _filler(column)
    connection.execute(table.insert().values(**row))
