"""Issue 13: the dashboards' figures are memoised by the audit chain's head (app.stats.cache).
A read after no write is answered from the cache; any audited write, through this instance or
another one (another engine on the same database), moves the head and the figures follow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from app.core.clock import use_clock
from app.core.db import load_clock
from app.main import create_app
from app.programme.service import seed_programme
from app.stats import cache as stats_cache, service as stats_service
from tests.api.budgets.driver import Money
from tests.api.stats.dataset import Builder, build
from tests.conftest import ACTORS
from tests.support import (
    TEST_CLOCK_START,
    auth_headers,
    create_database,
    drop_database,
    migrate,
    test_settings,
)

NATIONAL = "/api/v1/stats/national"
DEPARTEMENTS = "/api/v1/stats/departements"


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The queries each cold computation answered (one entry per computation)."""
    calls: list[Any] = []
    compute = stats_service._compute

    async def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[3])
        return await compute(*args, **kwargs)

    monkeypatch.setattr(stats_service, "_compute", counting)
    return calls


async def _read(client: AsyncClient, headers: dict[str, str], url: str = NATIONAL) -> Any:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_write_through_the_api_moves_the_figures(
    client: AsyncClient, session: Any, headers: Any, clock_at: Any, computed: list[Any]
) -> None:
    builder = Builder(client, session, headers, clock_at)
    await build(builder)
    dinum = headers(ACTORS.dinum)
    first = await _read(client, dinum)
    assert await _read(client, dinum) == first  # no write: the cached figures
    assert len(computed) == 1
    by_dep = await _read(client, dinum, DEPARTEMENTS)
    assert len(computed) == 2  # another query, its own entry
    assert await _read(client, dinum, DEPARTEMENTS) == by_dep
    assert len(computed) == 2

    topped = await builder.money.allocate("13", 123_400, kind="top_up")
    assert topped.status_code == 201, topped.text

    after = await _read(client, dinum)
    assert len(computed) == 3  # the write moved the audit head: computed again
    assert after["allocated_cents"] == first["allocated_cents"] + 123_400
    assert after["available_cents"] == first["available_cents"] + 123_400
    moved = {"allocated_cents", "available_cents", "use_rate_bps"}
    assert {k: v for k, v in after.items() if k not in moved} == {
        k: v for k, v in first.items() if k not in moved
    }


async def test_r_com_1_today_is_part_of_the_key(
    client: AsyncClient, session: Any, headers: Any, clock_at: Any, computed: list[Any]
) -> None:
    await build(Builder(client, session, headers, clock_at))
    dinum = headers(ACTORS.dinum)
    await _read(client, dinum)
    clock_at("2022-06-01")  # R-COM-1 due-ness is of the day: a new day, a new computation
    await _read(client, dinum)
    assert len(computed) == 2


def test_the_cache_is_bounded() -> None:
    stats_cache.clear()
    for i in range(stats_cache.MAX_ENTRIES + 5):
        stats_cache.put(("key", i), {None: {}})
    assert stats_cache.size() == stats_cache.MAX_ENTRIES
    assert stats_cache.get(("key", 0)) is None  # the least recently used went first
    assert stats_cache.get(("key", stats_cache.MAX_ENTRIES + 4)) == {None: {}}
    stats_cache.clear()


@pytest_asyncio.fixture(loop_scope="session")
async def instances(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, FastAPI]]:
    """Two instances of the service (two apps, two engines) on one fresh database."""
    url = await create_database(tmp_path, "stats_cache")
    await migrate(url)
    settings = test_settings(url, clock_start=TEST_CLOCK_START)
    apps = (create_app(settings), create_app(settings))
    try:
        for application in apps:
            application.state.clock = await load_clock(application.state.sessionmaker, settings)
        use_clock(apps[0].state.clock)
        async with apps[0].state.sessionmaker() as seeding, seeding.begin():
            await seed_programme(seeding)
        yield apps
    finally:
        for application in apps:
            await application.state.engine.dispose()
        await drop_database(url)
        stats_cache.clear()


async def test_a_write_by_another_instance_moves_the_figures(
    instances: tuple[FastAPI, FastAPI], computed: list[Any]
) -> None:
    first, second = instances
    settings = first.state.settings
    dinum = auth_headers(settings, ACTORS.dinum)
    async with (
        AsyncClient(transport=ASGITransport(app=first), base_url="http://a") as a,
        AsyncClient(transport=ASGITransport(app=second), base_url="http://b") as b,
    ):
        before = await _read(a, dinum)
        assert before["allocated_cents"] == 0
        assert await _read(a, dinum) == before
        assert len(computed) == 1

        money = Money(b, None, lambda who: auth_headers(settings, who), ACTORS)  # type: ignore[arg-type]
        allocated = await money.allocate("13", 5_000_000)
        assert allocated.status_code == 201, allocated.text

        after = await _read(a, dinum)
        assert after["allocated_cents"] == 5_000_000
        assert len(computed) == 2
        assert (await _read(b, dinum)) == after  # the other instance reads the same figures


async def test_the_startup_warm_up_keeps_no_figures(
    app: FastAPI, client: AsyncClient, session: Any, headers: Any, computed: list[Any]
) -> None:
    """Issue 28: the server's start computes the national figures once to compile their
    statements (and walks the routes), and keeps nothing: the first read computes its own."""
    from app.main import warm_up  # noqa: PLC0415

    stats_cache.clear()
    await warm_up(app, app.state.settings)
    assert len(computed) == 1 and stats_cache.size() == 0
    await _read(client, headers(ACTORS.dinum))
    assert len(computed) == 2
