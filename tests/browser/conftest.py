"""Browser fixtures (issue 12): the real server on 127.0.0.1 and Debian's headless Chromium
driven by Playwright, with every request to another host aborted and recorded.

Reuse them for any page the service serves:

    async def test_page(served: str, offline_page: OfflinePage) -> None:
        await offline_page.page.goto(f"{served}/docs")
        ...
        offline_page.assert_offline()

Chromium is Debian's (`apt-get install -y chromium`, done by `.ci/run`), launched through its
`executable_path`: no browser is ever downloaded. Without it the tests skip on a workstation and
fail under CI (`CI` set), so a green CI always ran them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from tests.support import TEST_SECRET, create_database, drop_database

PROJECT_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
LOCAL_HOSTS = {"127.0.0.1"}


def chromium_path() -> str | None:
    explicit = os.environ.get("GUICHET_CHROMIUM")
    if explicit:
        return explicit
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        message = "Debian's chromium is missing: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(database_url: str, log: Path, *, port: int | None = None, **env: str) -> Iterator[str]:
    """Migrate and seed `database_url`, then `python -m app serve` on 127.0.0.1 and `port` (a
    free one by default; its output to `log`, never to an unread pipe); yields the base URL;
    always stopped."""
    import httpx

    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")},
        "GUICHET_ENVIRONMENT": "test",
        "GUICHET_DATABASE_URL": database_url,
        "GUICHET_JWT_SECRET": TEST_SECRET,
        "GUICHET_CLOCK_START": "2021-03-01T09:00:00+01:00",
        **env,
    }
    python = sys.executable
    for command in ("migrate", "seed"):
        subprocess.run(  # noqa: S603 - fixed argv, the project's own interpreter
            [python, "-m", "app", command], cwd=PROJECT_ROOT, env=environ, check=True
        )
    port = port or free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603
            [python, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=environ,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The real server (`python -m app serve`) on 127.0.0.1, a fresh migrated database."""
    tmp = tmp_path_factory.mktemp("browser")
    url = await create_database(tmp, "browser")
    try:
        with serve(url, tmp / "server.log") as base:
            yield base
    finally:
        await drop_database(url)


@dataclass
class OfflinePage:
    """A page whose network stops at 127.0.0.1: every other request is aborted and listed."""

    page: object
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def assert_offline(self) -> None:
        assert self.blocked == [], f"requests to other hosts were attempted: {self.blocked}"


@pytest_asyncio.fixture(loop_scope="session")
async def offline_page(chromium: str) -> AsyncIterator[OfflinePage]:
    from playwright.async_api import Route, async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox"]
        )
        try:
            context = await browser.new_context()
            page = await context.new_page()
            offline = OfflinePage(page)

            async def only_local(route: Route) -> None:
                host = urlsplit(route.request.url).hostname
                if route.request.url.startswith("data:") or host in LOCAL_HOSTS:
                    await route.continue_()
                else:
                    offline.blocked.append(route.request.url)
                    await route.abort("blockedbyclient")

            await context.route("**/*", only_local)
            page.on(
                "console",
                lambda message: (
                    offline.console_errors.append(message.text) if message.type == "error" else None
                ),
            )
            yield offline
        finally:
            await browser.close()
