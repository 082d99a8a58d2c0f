"""Issue 8 item 3, API4: an unreachable database answers 503 problem+json with Retry-After within
a few seconds, on /readyz and on every endpoint, and the service recovers without a restart.

Real sockets on 127.0.0.1 only: a closed port, a listener that accepts and stays silent, a proxy
that is silent then forwards to the real PostgreSQL, a dropped (then recreated) database.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy.engine import make_url

from app.auth.principal import Principal, Role
from app.core.config import Settings
from app.main import create_app
from tests.support import (
    auth_headers,
    backend_url,
    create_database,
    drop_database,
    migrate_and_seed,
    test_settings,
)

PREFECT = Principal("prefet-13", Role.PREFECT, departement="13")
CONNECT_TIMEOUT = 1.0
# Two calls: the health probe and an endpoint that reads the database.
PROBES = ("/readyz", "/api/v1/projects")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_url(port: int, database: str = "guichet") -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{database}"


@contextlib.asynccontextmanager
async def _client(settings: Settings) -> AsyncIterator[tuple[FastAPI, AsyncClient]]:
    app = create_app(settings)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with AsyncClient(transport=transport, base_url="http://test") as http:
            yield app, http
    finally:
        await app.state.engine.dispose()


async def _get(http: AsyncClient, settings: Settings, path: str) -> tuple[Response, float]:
    started = time.monotonic()
    response = await http.get(path, headers=auth_headers(settings, PREFECT))
    return response, time.monotonic() - started


def assert_unavailable(response: Response, elapsed: float, limit: float) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert body["status"] == 503 and body["code"] == "service-unavailable"
    assert "Error" not in body["detail"] and "127.0.0.1" not in response.text
    assert elapsed < limit, f"answered after {elapsed:.1f} s"


class SilentThenForward:
    """A TCP listener on 127.0.0.1: accepts and stays silent, or (once `forward_to` is set)
    relays each new connection to that port."""

    def __init__(self) -> None:
        self.forward_to: int | None = None
        self.held: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> SilentThenForward:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.held:
            writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.server.wait_closed(), 2)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.held.append(writer)
        if self.forward_to is None:
            return  # accept, never answer
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.forward_to)
        self.held.append(up_writer)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_api4_closed_database_port_answers_503_with_retry_after_quickly() -> None:
    """ConnectionRefusedError (not a DBAPIError) is a 503, on /readyz and on an endpoint."""
    settings = test_settings(_pg_url(_free_port()), database_connect_timeout_seconds=1)
    async with _client(settings) as (_app, http):
        for path in PROBES:
            for _ in range(2):  # the second call must not find a broken pool either
                response, elapsed = await _get(http, settings, path)
                assert_unavailable(response, elapsed, limit=3)


async def test_api4_silent_database_listener_answers_503_after_the_connect_timeout() -> None:
    """A port that accepts TCP and never answers: 503 after the connect timeout, not 60 s."""
    async with SilentThenForward() as listener:
        settings = test_settings(
            _pg_url(listener.port), database_connect_timeout_seconds=CONNECT_TIMEOUT
        )
        async with _client(settings) as (_app, http):
            for path in PROBES:
                response, elapsed = await _get(http, settings, path)
                assert_unavailable(response, elapsed, limit=CONNECT_TIMEOUT + 3)
                assert elapsed >= CONNECT_TIMEOUT * 0.9


async def test_api4_pool_timeout_is_a_setting_and_answers_503(database_url: str) -> None:
    """Every pooled connection busy past the pool timeout: 503, not a 500 after 30 s."""
    settings = test_settings(database_url, database_pool_size=1, database_pool_timeout_seconds=0.5)
    async with _client(settings) as (app, http):
        engine = app.state.engine
        capacity = engine.pool.size() + engine.pool._max_overflow  # the pool and its overflow
        held = [await engine.connect() for _ in range(capacity)]
        try:
            response, elapsed = await _get(http, settings, "/readyz")
            assert_unavailable(response, elapsed, limit=3)
            assert elapsed >= 0.4
        finally:
            for conn in held:
                await conn.close()
        response, _ = await _get(http, settings, "/readyz")
        assert response.status_code == 200, response.text


@pytest.mark.skipif(backend_url() is None, reason="a TCP database: PostgreSQL only")
async def test_api4_recovers_without_restart_when_the_database_starts_answering() -> None:
    base = backend_url()
    assert base is not None
    url = await create_database(Path("."), "faults")
    await migrate_and_seed(url)
    try:
        real = make_url(url)
        async with SilentThenForward() as listener:
            settings = test_settings(
                _pg_url(listener.port, real.database or ""),
                database_connect_timeout_seconds=CONNECT_TIMEOUT,
            )
            async with _client(settings) as (_app, http):
                for path in PROBES:
                    response, elapsed = await _get(http, settings, path)
                    assert_unavailable(response, elapsed, limit=CONNECT_TIMEOUT + 3)
                listener.forward_to = real.port or 5432
                ready, _ = await _get(http, settings, "/readyz")
                assert ready.status_code == 200, ready.text
                listed, _ = await _get(http, settings, "/api/v1/projects")
                assert listed.status_code == 200, listed.text
    finally:
        await drop_database(url)


@pytest.mark.skipif(backend_url() is None, reason="DROP DATABASE: PostgreSQL only")
async def test_api4_dropped_postgresql_database_answers_503_then_recovers() -> None:
    url = await create_database(Path("."), "dropped")
    await migrate_and_seed(url)
    settings = test_settings(url)
    try:
        async with _client(settings) as (_app, http):
            for path in PROBES:
                response, _ = await _get(http, settings, path)
                assert response.status_code == 200, response.text  # pooled connections exist
            await drop_database(url)
            for path in PROBES:
                response, elapsed = await _get(http, settings, path)
                assert_unavailable(response, elapsed, limit=5)
            await _recreate(url)
            for path in PROBES:
                response, _ = await _get(http, settings, path)
                assert response.status_code == 200, response.text
    finally:
        await drop_database(url)


async def _recreate(url: str) -> None:
    from tests.support import _pg_admin

    admin = await _pg_admin(url)
    try:
        await admin.execute(f'CREATE DATABASE "{make_url(url).database}"')
    finally:
        await admin.close()
    await migrate_and_seed(url)


@pytest.mark.skipif(backend_url() is not None, reason="the SQLite file: SQLite only")
async def test_api4_unopenable_sqlite_database_answers_503_then_recovers(tmp_path: Path) -> None:
    """SQLite's analogue of a dropped database: the file cannot be opened (a directory stands
    in its place); once it is back and migrated, the same app answers without a restart."""
    path = tmp_path / "guichet.db"
    path.mkdir()
    url = f"sqlite+aiosqlite:///{path}"
    settings = test_settings(url)
    async with _client(settings) as (_app, http):
        for probe in PROBES:
            response, elapsed = await _get(http, settings, probe)
            assert_unavailable(response, elapsed, limit=3)
        shutil.rmtree(path)
        await migrate_and_seed(url)
        for probe in PROBES:
            response, _ = await _get(http, settings, probe)
            assert response.status_code == 200, response.text
