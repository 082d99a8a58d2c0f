"""Issue 8 items 8 and 10: the real server, as `python -m app serve` starts it (Makefile,
Dockerfile), on 127.0.0.1 and a free port.

- keep-alive outlives the idle gaps between bursts (the default, 75 s, outlives a load
  balancer's 60 s idle timeout): the connections of a 200-way burst are reused after 6 s of
  idle (uvicorn's former 5 s closed them), 0 resets, 0 503s;
- the keep-alive is the setting's: at 1 s, the same gap finds every connection closed;
- no response carries `server: uvicorn`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.support import TEST_SECRET

PROJECT_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(database_url: str, **env: str) -> Iterator[str]:
    """`python -m app serve` in a subprocess; yields its base URL; always stopped."""
    port = _free_port()
    environ = {
        **os.environ,
        "GUICHET_ENVIRONMENT": "test",
        "GUICHET_DATABASE_URL": database_url,
        "GUICHET_JWT_SECRET": TEST_SECRET,
        # The one address knob of every launcher (make run, the image): the settings.
        "GUICHET_SERVER_HOST": "127.0.0.1",
        "GUICHET_SERVER_PORT": str(port),
        **env,
    }
    process = subprocess.Popen(  # noqa: S603 - fixed argv, the project's own interpreter
        [sys.executable, "-m", "app", "serve"],
        cwd=PROJECT_ROOT,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else b""
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


async def _get(http: httpx.AsyncClient, path: str) -> tuple[httpx.Response, int]:
    """The response and the local port of the connection it came on."""
    async with http.stream("GET", path) as response:
        stream = response.extensions["network_stream"]
        port = int(stream.get_extra_info("client_addr")[1])
        await response.aread()
    return response, port


async def _burst(
    http: httpx.AsyncClient, path: str, size: int
) -> tuple[list[httpx.Response], set[int]]:
    results = await asyncio.gather(*(_get(http, path) for _ in range(size)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == [], f"{len(errors)} of {size} failed: {errors[:3]!r}"
    pairs = [r for r in results if isinstance(r, tuple)]
    return [r for r, _ in pairs], {p for _, p in pairs}


async def _two_bursts(
    base: str, path: str, size: int, gap_s: float
) -> tuple[list[httpx.Response], set[int], set[int]]:
    # httpx's own idle expiry (5 s by default) must not be what closes the connections.
    limits = httpx.Limits(
        max_connections=size, max_keepalive_connections=size, keepalive_expiry=300
    )
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        first, first_ports = await _burst(http, path, size)
        await asyncio.sleep(gap_s)
        second, second_ports = await _burst(http, path, size)
    return first + second, first_ports, second_ports


async def test_keep_alive_outlives_idle_gaps_no_reset_no_503_no_server_header(
    database_url: str,
) -> None:
    with serve(database_url) as base:
        responses, first, second = await _two_bursts(base, "/healthz", size=200, gap_s=6)
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == len(responses) == 400, sorted(set(statuses))
    assert all("server" not in r.headers for r in responses)
    # Every connection of the second burst is one of the first: none was closed in the gap.
    assert second <= first, f"{len(second - first)} new connections after 6 s idle"


async def test_keep_alive_is_the_setting(database_url: str) -> None:
    """The control: with GUICHET_SERVER_KEEP_ALIVE_SECONDS=1 the server closes idle
    connections, so the second burst runs on new ones (and still without error)."""
    with serve(database_url, GUICHET_SERVER_KEEP_ALIVE_SECONDS="1") as base:
        responses, first, second = await _two_bursts(base, "/healthz", size=10, gap_s=2.5)
    assert [r.status_code for r in responses] == [200] * 20
    assert not (second & first)


async def test_refusals_carry_no_server_header_either(database_url: str) -> None:
    with serve(database_url) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            responses = [
                await http.get("/nowhere"),
                await http.get("/api/v1/auth/me"),
                await http.get("/api/v1/auth/me", headers={"Authorization": "Bearer x.y.z"}),
            ]
    assert [r.status_code for r in responses] == [404, 401, 401]
    for response in responses:
        assert "server" not in response.headers
        assert response.headers["content-type"] == "application/problem+json"
