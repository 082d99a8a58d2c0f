"""Issue 28, the lean read path: envelope reads take a pooled connection (app/core/reads.py),
never the ORM session, and a read never sees a half-done write."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import event, text
from starlette.requests import Request

from app.core.concurrency import etag_for
from app.core.db import get_session
from app.core.reads import read_connection
from tests.api.budgets.driver import Money
from tests.conftest import Actors

ENVELOPES = "/api/v1/envelopes"


async def test_r_acl_1_envelope_reads_take_no_orm_session(
    app: FastAPI,
    client: AsyncClient,
    money: Money,
    envelope_13: dict[str, Any],
    headers: Any,
    actors: Actors,
) -> None:
    """With the session dependency made to fail, the three envelope reads still answer, in
    scope (R-ACL-1): they read through their own connection."""

    async def _no_session() -> None:
        raise AssertionError("a lean read asked for the ORM session")

    overridden = app.dependency_overrides[get_session]
    app.dependency_overrides[get_session] = _no_session
    try:
        pref13, pref75 = headers(actors.pref13), headers(actors.pref75)
        one = await client.get(f"{ENVELOPES}/13", headers=pref13)
        assert one.status_code == 200, one.text
        assert one.json() == envelope_13  # what the allocation answered, field for field
        assert one.headers["ETag"] == etag_for(envelope_13["version"])
        listed = await client.get(ENVELOPES, headers=pref13)
        assert listed.status_code == 200, listed.text
        assert [e["departement"] for e in listed.json()["items"]] == ["13"]
        assert (await client.get(ENVELOPES, headers=pref75)).json()["items"] == []
        ledger = await client.get(f"{ENVELOPES}/13/ledger", headers=pref13)
        assert ledger.status_code == 200, ledger.text
        assert [m["kind"] for m in ledger.json()["items"]] == ["allocation"]
        assert (await client.get(f"{ENVELOPES}/13", headers=pref75)).status_code == 404
        assert (await client.get(f"{ENVELOPES}/13/ledger", headers=pref75)).status_code == 404
    finally:
        app.dependency_overrides[get_session] = overridden


def _request(app: FastAPI) -> Request:
    return Request({"type": "http", "app": app, "method": "GET", "path": "/", "headers": []})


async def test_a_read_runs_in_autocommit_on_postgresql_and_a_deferred_transaction_on_sqlite(
    app: FastAPI,
) -> None:
    """A read never takes SQLite's write lock (BEGIN, not BEGIN IMMEDIATE); on PostgreSQL each
    of its statements reads its own snapshot of committed rows (autocommit: no BEGIN, no
    COMMIT round trip), unless it asks for one snapshot (REPEATABLE READ, READ ONLY)."""
    engine = app.state.engine
    if engine.dialect.name == "sqlite":
        seen: list[str] = []

        def _record(_c: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            seen.append(statement.strip().upper())

        event.listen(engine.sync_engine, "before_cursor_execute", _record)
        try:
            async with read_connection(_request(app), snapshot=False) as connection:
                assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", _record)
        assert seen[:2] == ["BEGIN", "SELECT 1"]
        return
    instants = "SELECT now()"
    async with read_connection(_request(app), snapshot=False) as connection:
        first = (await connection.execute(text(instants))).scalar_one()
        await asyncio.sleep(0.01)
        second = (await connection.execute(text(instants))).scalar_one()
        assert second > first  # two transactions: now() is a transaction's start
    async with read_connection(_request(app), snapshot=True) as connection:
        first = (await connection.execute(text(instants))).scalar_one()
        await asyncio.sleep(0.01)
        assert (await connection.execute(text(instants))).scalar_one() == first
        isolation = await connection.scalar(text("SHOW transaction_isolation"))
        read_only = await connection.scalar(text("SHOW transaction_read_only"))
        assert (isolation, read_only) == ("repeatable read", "on")


async def test_a_ledger_page_is_the_bytes_of_its_response_model(
    client: AsyncClient, envelope_13: dict[str, Any], headers: Any, actors: Actors
) -> None:
    """Issue 28: a ledger page is written by its model's shape (app/core/lean_json.py), not
    validated per response: its bytes are those of `LedgerPage` validated and written."""
    from app.budgets.schemas import LedgerPage

    for who in (actors.pref13, actors.dinum):
        ledger = await client.get(f"{ENVELOPES}/13/ledger", headers=headers(who))
        assert ledger.status_code == 200, ledger.text
        assert ledger.headers["content-type"] == "application/json"
        assert ledger.json()["items"]
        expected = LedgerPage.model_validate_json(ledger.content).model_dump_json().encode()
        assert ledger.content == expected
