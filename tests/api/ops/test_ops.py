"""GET /healthz and GET /readyz."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import pytest
from alembic import command
from httpx import ASGITransport, AsyncClient

from app.core.migrations import alembic_config
from app.main import create_app
from tests.support import create_database, drop_database, migrate, test_settings


async def test_healthz_answers_without_a_token(client: AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_readyz_reports_the_migrated_revision(client: AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready" and body["database"] == "ok"
    assert body["revision"]


async def test_readyz_is_503_problem_on_a_database_behind_its_migrations(tmp_path: Path) -> None:
    url = await create_database(tmp_path, "unmigrated")
    app = create_app(test_settings(url))
    try:
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://test") as http:
            empty = await http.get("/readyz")
            assert empty.status_code == 503
            assert empty.headers["content-type"] == "application/problem+json"
            assert empty.headers["retry-after"] == "1"  # issue 8 item 8
            await migrate(url)
            await migrate_to_previous(url)
            behind = await http.get("/readyz")
            assert behind.status_code == 503
            assert behind.json()["code"] == "migrations-pending"
            assert behind.headers["retry-after"] == "1"
    finally:
        await app.state.engine.dispose()
        await drop_database(url)


async def migrate_to_previous(url: str) -> None:
    cfg = alembic_config(url)
    cfg.attributes["skip_logging"] = True
    await asyncio.to_thread(command.downgrade, cfg, "-1")


@pytest.mark.parametrize("freeze", [True, False])
async def test_startup_freezes_what_it_built_for_the_collector(
    database_url: str, freeze: bool
) -> None:
    """Issue 13 (GUICHET_SERVER_GC_FREEZE): at the end of startup what is alive moves to the
    collector's permanent generation, which full collections no longer walk; off, nothing
    moves (the test suite's setting)."""
    app = create_app(test_settings(database_url, server_gc_freeze=freeze))
    before = gc.get_freeze_count()
    try:
        async with app.router.lifespan_context(app):
            frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()  # this test process builds many apps: give the objects back
        await app.state.engine.dispose()
    assert (frozen > before) is freeze
