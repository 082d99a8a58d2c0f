"""API4: a slow query or a locked database answers 503 problem+json with Retry-After, never a
hung worker or a 500."""

from __future__ import annotations

import sqlite3

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.core.db import SessionDep
from app.main import create_app
from tests.support import backend_url, test_settings


def _app_with_probe(database_url: str, **overrides: object):  # type: ignore[no-untyped-def]
    app = create_app(test_settings(database_url, **overrides))

    @app.get("/probe")
    async def probe(session: SessionDep) -> dict[str, int]:
        sleep = "SELECT pg_sleep(2)" if database_url.startswith("postgresql") else "SELECT 1"
        await session.execute(text(sleep))
        return {"ok": 1}

    return app


async def _call_probe(app) -> object:  # type: ignore[no-untyped-def]
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with AsyncClient(transport=transport, base_url="http://test") as http:
            return await http.get("/probe")
    finally:
        await app.state.engine.dispose()


def _assert_503(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["Retry-After"] == "1"
    body = response.json()
    assert body["code"] == "service-unavailable"
    assert "pg_sleep" not in response.text and "locked" not in response.text


@pytest.mark.skipif(backend_url() is None, reason="statement_timeout is a PostgreSQL setting")
async def test_a_query_over_the_statement_timeout_answers_503(database_url: str) -> None:
    response = await _call_probe(_app_with_probe(database_url, statement_timeout_ms=200))
    _assert_503(response)


@pytest.mark.skipif(backend_url() is not None, reason="SQLite's single-writer lock")
async def test_a_locked_sqlite_database_answers_503(database_url: str) -> None:
    holder = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        response = await _call_probe(_app_with_probe(database_url, sqlite_busy_timeout_ms=100))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    _assert_503(response)
