"""Browser fixtures of /tableau-de-bord/: the app served by uvicorn on 127.0.0.1 over a fresh
database seeded through the API (the dashboards' known data set, tests/api/stats/dataset.py),
and Debian's chromium driven by Playwright with every host but 127.0.0.1 refused.

Never `playwright install`: the browser is /usr/bin/chromium (`apt-get install chromium`,
which .ci/run does). Without it these tests skip on a developer's machine and fail under CI.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from httpx import ASGITransport, AsyncClient

from app.auth.principal import Principal
from app.core.clock import Clock, use_clock
from app.core.db import get_clock, load_clock
from app.main import create_app
from app.programme.service import seed_programme
from tests.api.stats.dataset import Builder, build
from tests.support import (
    TEST_CLOCK_START,
    TEST_SECRET,
    auth_headers,
    clock_starting_at,
    create_database,
    drop_database,
    migrate,
    test_settings,
    token,
)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("GUICHET_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"  # gitignored: screenshots kept by the tests
AXE = Path(__file__).parent / "vendor" / "axe.min.js"  # `make assets` (axe-core, pinned)
START_TIMEOUT_S = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _seed(url: str) -> None:
    """Migrate, then build the known data set through the API (every step a request)."""
    await migrate(url)
    settings = test_settings(url, clock_start=TEST_CLOCK_START)
    app = create_app(settings)
    app.state.clock = await load_clock(app.state.sessionmaker, settings)
    use_clock(app.state.clock)
    async with app.state.sessionmaker() as session, session.begin():
        await seed_programme(session)

    def clock_at(instant: datetime | str) -> Clock:
        clock = clock_starting_at(instant)
        app.dependency_overrides[get_clock] = lambda: clock
        use_clock(clock)
        return clock

    def headers(principal: Principal) -> dict[str, str]:
        return auth_headers(settings, principal)

    try:
        async with (
            AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
            app.state.sessionmaker() as session,
        ):
            await build(Builder(client, session, headers, clock_at))
    finally:
        await app.state.engine.dispose()


def _in_thread(coroutine: Any) -> Any:
    """Run a coroutine on its own loop, apart from pytest-asyncio's session loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@dataclass(frozen=True)
class Server:
    base: str
    settings: Any

    def token(self, principal: Principal) -> str:
        return token(self.settings, principal)

    def get(self, path: str, principal: Principal, **params: str) -> Any:
        response = httpx.get(
            f"{self.base}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.token(principal)}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`python -m app serve` on 127.0.0.1 over a fresh database holding the known data set."""
    tmp = tmp_path_factory.mktemp("dashboard")
    url = _in_thread(create_database(tmp, "dashboard"))
    try:
        _in_thread(_seed(url))
        port = _free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")},
            "GUICHET_ENVIRONMENT": "test",
            "GUICHET_DATABASE_URL": url,
            "GUICHET_JWT_SECRET": TEST_SECRET,
            "GUICHET_WEBHOOK_WORKER_ENABLED": "false",
        }
        log = (tmp / "server.log").open("wb")  # a file, not a pipe nobody drains
        process = subprocess.Popen(  # noqa: S603 - fixed argv, the project's own interpreter
            [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                assert process.poll() is None, (tmp / "server.log").read_text()
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
            yield Server(base, test_settings(url))
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            log.close()
    finally:
        _in_thread(drop_database(url))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        message = f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Network:
    """What the pages of one test did wrong: requests to another host (aborted), console
    errors (a Content-Security-Policy refusal, a failed request) and uncaught exceptions."""

    refused: list[str]
    errors: list[str]


@pytest.fixture
def network() -> Network:
    return Network(refused=[], errors=[])


@pytest.fixture
def open_page(browser: Any, server: Server, network: Network) -> Iterator[Callable[..., Any]]:
    """`open_page(principal, width=1280, height=900, token=None)`: the dashboard signed in
    with a pasted development token; the network is restricted to 127.0.0.1 (any other host
    aborted)."""
    contexts: list[Any] = []

    def _guard(route: Any) -> None:
        host = urlsplit(route.request.url).hostname
        if host == "127.0.0.1" or route.request.url.startswith(("blob:", "data:")):
            route.continue_()
        else:
            network.refused.append(route.request.url)
            route.abort()

    def _open(
        principal: Principal, width: int = 1280, height: int = 900, token: str | None = None
    ) -> Any:
        context = browser.new_context(
            viewport={"width": width, "height": height}, locale="fr-FR", accept_downloads=True
        )
        contexts.append(context)
        context.route("**/*", _guard)
        page = context.new_page()
        page.on(
            "console",
            lambda message: message.type == "error" and network.errors.append(message.text),
        )
        page.on("pageerror", lambda error: network.errors.append(str(error)))
        page.goto(f"{server.base}/tableau-de-bord/")
        page.fill("#jeton", token or server.token(principal))
        page.click("#jeton-form button[type=submit]")
        page.wait_for_selector("#chiffres li[data-figure='allocated_cents']")
        page.wait_for_function("document.querySelector('#message').textContent === ''")
        return page

    yield _open
    for context in contexts:
        context.close()


def run_axe(page: Any) -> list[dict[str, Any]]:
    """axe-core (pinned, tests/dashboard/vendor) run inside the page; its violations."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    violations: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document)).violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
        }))"""
    )
    return violations


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
