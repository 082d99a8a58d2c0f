"""Issue 23: a UNIQUE violation (a row created under a natural key that a concurrent request
created first) answers 409 problem+json, never 500, even where no service maps it; other
integrity errors are not mistaken for it."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from app.core.db import is_unique_violation
from app.core.exception_handlers import install_error_handlers


def integrity_error(statement: str) -> IntegrityError:
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        connection.execute(text("CREATE TABLE t (k TEXT UNIQUE, v TEXT NOT NULL)"))
        connection.execute(text("INSERT INTO t VALUES ('a', 'x')"))
        with pytest.raises(IntegrityError) as caught:
            connection.execute(text(statement))
    return caught.value


UNIQUE = "INSERT INTO t VALUES ('a', 'y')"
NOT_NULL = "INSERT INTO t VALUES ('b', NULL)"


def test_a_unique_violation_is_told_from_other_integrity_errors() -> None:
    assert is_unique_violation(integrity_error(UNIQUE))
    assert not is_unique_violation(integrity_error(NOT_NULL))


class SqlState(Exception):
    """What asyncpg's errors carry (PostgreSQL's SQLSTATE)."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__("some message")
        self.sqlstate = sqlstate


def test_postgresql_errors_are_read_by_their_sqlstate() -> None:
    assert is_unique_violation(IntegrityError("INSERT", {}, SqlState("23505")))
    assert not is_unique_violation(IntegrityError("INSERT", {}, SqlState("23502")))


async def test_an_unmapped_unique_violation_is_a_409_problem() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/unique")
    async def unique() -> None:
        raise integrity_error(UNIQUE)

    @app.post("/not-null")
    async def not_null() -> None:
        raise integrity_error(NOT_NULL)

    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        conflict = await client.post("/unique")
        other = await client.post("/not-null")
    assert conflict.status_code == 409, conflict.text
    assert conflict.headers["content-type"] == "application/problem+json"
    assert conflict.json()["code"] == "conflict"
    assert other.status_code == 500
