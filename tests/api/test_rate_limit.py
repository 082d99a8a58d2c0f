"""Rate limiting per caller (RELIABILITY.md API4): N+1 requests in the window get 429 with
Retry-After and the RateLimit headers, per role and per class of route, by token identity or by
client address, in memory and against the real Redis, shared by two app instances.

Redis runs at 127.0.0.1:6379 (`.ci/run` starts it). Under CI the Redis tests fail when it is
down; elsewhere they are skipped.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response

from app.auth.principal import Principal, Role
from app.core.config import Settings
from app.main import create_app
from tests.conftest import ACTORS
from tests.support import auth_headers, test_settings

REDIS_URL = "redis://127.0.0.1:6379/0"
ME = "/api/v1/auth/me"  # a read that needs no database
COLLECTIVITE = "/api/v1/reference/collectivites/211300553"  # a read with a token
PROGRAMME = "/api/v1/programme"  # a public read
PROJECTS = "/api/v1/projects"  # a write (an invalid body: nothing is stored)
OPEN_DATA = "/api/v1/open-data/projets"  # no route yet: 404, counted all the same
RATE_HEADERS = (
    "ratelimit-policy",
    "ratelimit",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
)


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def require_redis() -> str:
    if not redis_up():
        if os.environ.get("CI"):
            pytest.fail("Redis is not answering on 127.0.0.1:6379 (CI requires it)")
        pytest.skip("Redis is not answering on 127.0.0.1:6379")
    return REDIS_URL


@pytest.fixture(params=["memory", "redis"])
def storage_url(request: pytest.FixtureRequest) -> str:
    return "memory://" if request.param == "memory" else require_redis()


@pytest.fixture
def key_prefix() -> Iterator[str]:
    """A fresh Redis key prefix per test; its keys are deleted afterwards."""
    prefix = f"guichet-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    if redis_up():
        _cleanup(prefix)


def _cleanup(prefix: str) -> None:
    """Delete the test's keys with plain RESP over a socket (no event loop needed)."""
    with socket.create_connection(("127.0.0.1", 6379), timeout=2) as sock:
        reader = sock.makefile("rb")

        def command(*args: str) -> Any:
            payload = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
            sock.sendall(payload.encode())
            return _read(reader)

        cursor = "0"
        while True:
            cursor_raw, keys = command("SCAN", cursor, "MATCH", f"{prefix}*", "COUNT", "1000")
            if keys:
                command("DEL", *keys)
            cursor = cursor_raw
            if cursor == "0":
                break
        assert command("SCAN", "0", "MATCH", f"{prefix}*", "COUNT", "1000")[1] == []


def _read(reader: Any) -> Any:
    line = reader.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind in (b"+", b"-"):
        return rest.decode()
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        data = reader.read(size + 2)[:-2]
        return data.decode()
    if kind == b"*":
        return [_read(reader) for _ in range(int(rest))]
    raise AssertionError(f"unexpected RESP reply {line!r}")


@pytest.fixture
def make_settings(
    app: FastAPI, settings: Settings, storage_url: str, key_prefix: str
) -> Callable[..., Settings]:
    """Settings of the suite (its database, seeded by `app`) with this storage, a fresh key
    prefix and the given limits."""

    def _make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "rate_limit_storage_url": storage_url,
            "rate_limit_key_prefix": key_prefix,
        }
        values.update(overrides)
        return test_settings(settings.database_url, **values)

    return _make


@asynccontextmanager
async def serve_from(
    settings: Settings, *clients: tuple[str, int]
) -> AsyncIterator[list[AsyncClient]]:
    """A fresh app (a fresh create_app) for these settings, one HTTP client per address."""
    app: FastAPI = create_app(settings)
    opened: list[AsyncClient] = []
    try:
        for client in clients:
            http = AsyncClient(transport=ASGITransport(app=app, client=client), base_url="http://t")
            opened.append(await http.__aenter__())
        yield opened
    finally:
        for http in opened:
            await http.__aexit__(None, None, None)
        await app.state.engine.dispose()


@asynccontextmanager
async def serve(
    settings: Settings, client: tuple[str, int] = ("203.0.113.10", 40000)
) -> AsyncIterator[AsyncClient]:
    """A fresh app for these settings, seen from `client`."""
    async with serve_from(settings, client) as (http,):
        yield http


def assert_rate_headers(response: Response, *, limit: int, remaining: int, klass: str) -> None:
    for name in RATE_HEADERS:
        assert name in response.headers, (name, dict(response.headers))
    assert response.headers["ratelimit-limit"] == str(limit)
    assert response.headers["ratelimit-remaining"] == str(remaining)
    assert response.headers["ratelimit-policy"] == f'"{klass}";q={limit};w=60'
    reset_in = int(response.headers["ratelimit"].rsplit(";t=", 1)[1])
    assert response.headers["ratelimit"] == f'"{klass}";r={remaining};t={reset_in}'
    assert 0 <= reset_in <= 60
    reset_at = int(response.headers["ratelimit-reset"])  # API Entreprise: an epoch timestamp
    assert time.time() - 2 <= reset_at <= time.time() + 62


def assert_too_many(response: Response, *, limit: int, klass: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 429
    assert body["code"] == "rate-limited"
    assert body["type"].endswith("/rate-limited")
    assert "Trop de requêtes" in body["detail"] and "Réessayez" in body["detail"]
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert_rate_headers(response, limit=limit, remaining=0, klass=klass)
    assert response.headers["x-content-type-options"] == "nosniff"


async def exhaust(
    send: Callable[[], Any], limit: int, *, klass: str, check: bool = True
) -> Response:
    """`limit` requests pass, with a decreasing RateLimit-Remaining; the next is 429."""
    for i in range(limit):
        response: Response = await send()
        assert response.status_code not in (429, 500), (i, response.text)
        if check:
            assert_rate_headers(response, limit=limit, remaining=limit - 1 - i, klass=klass)
    refused: Response = await send()
    assert_too_many(refused, limit=limit, klass=klass)
    return refused


# -- per role and per class of route -----------------------------------------------------------

ROLE_LIMITS = {"candidate": 2, "prefect": 3, "dinum": 4, "anct": 5}
WHO = {
    "candidate": ACTORS.cand_a,
    "prefect": ACTORS.pref13,
    "dinum": ACTORS.dinum,
    "anct": ACTORS.anct,
}


@pytest.mark.parametrize("role", sorted(ROLE_LIMITS))
async def test_api4_each_role_has_its_own_read_limit(
    role: str, make_settings: Callable[..., Settings]
) -> None:
    limits = {f"{r}_read": f"{n}/minute" for r, n in ROLE_LIMITS.items()}
    settings = make_settings(rate_limits=limits)
    who = WHO[role]
    async with serve(settings) as http:
        headers = auth_headers(settings, who)
        await exhaust(lambda: http.get(ME, headers=headers), ROLE_LIMITS[role], klass="read")
        # still refused, and so on every read route: the budget is the caller's, not the path's
        assert_too_many(
            await http.get(COLLECTIVITE, headers=headers), limit=ROLE_LIMITS[role], klass="read"
        )


@pytest.mark.parametrize("role", sorted(ROLE_LIMITS))
async def test_api4_writes_have_a_stricter_budget_of_their_own(
    role: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        rate_limits={f"{role}_read": "50/minute", f"{role}_write": f"{ROLE_LIMITS[role]}/minute"}
    )
    async with serve(settings) as http:
        headers = auth_headers(settings, WHO[role])
        for method in ("post", "patch", "put", "delete"):
            assert (await http.request(method.upper(), PROJECTS, headers=headers)).status_code
        # the four methods above were writes: the budget is spent by the count of its limit
        limit = ROLE_LIMITS[role]
        if limit > 4:
            for _ in range(limit - 4):
                await http.post(PROJECTS, headers=headers, json={})
        refused = await http.post(PROJECTS, headers=headers, json={})
        assert_too_many(refused, limit=limit, klass="write")
        # reads are still served, from their own budget
        read = await http.get(ME, headers=headers)
        assert read.status_code == 200
        assert_rate_headers(read, limit=50, remaining=49, klass="read")


async def test_api4_a_refused_write_is_answered_before_its_body_is_parsed(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(rate_limits={"candidate_write": "1/minute"})
    async with serve(settings) as http:
        headers = {**auth_headers(settings, ACTORS.cand_a), "Content-Type": "application/json"}
        first = await http.post(PROJECTS, headers=headers, content=b"{not json")
        assert first.status_code == 422  # parsed: malformed JSON
        second = await http.post(PROJECTS, headers=headers, content=b"{not json")
        assert_too_many(second, limit=1, klass="write")  # not parsed: 429, not 422


async def test_api4_open_data_has_its_own_stricter_class_even_before_its_routes_exist(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(rate_limits={"anonymous_open_data": "2/minute"})
    async with serve(settings) as http:
        await exhaust(lambda: http.get(OPEN_DATA), 2, klass="open_data")
        assert_too_many(await http.get(OPEN_DATA + "/x.csv"), limit=2, klass="open_data")
        # the anonymous read budget is untouched
        read = await http.get(PROGRAMME)
        assert read.status_code != 429
        assert read.headers["ratelimit-policy"].startswith('"read";')


async def test_api4_two_callers_never_share_a_budget_even_with_the_same_sub(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(rate_limits={"prefect_read": "2/minute"})
    twin = Principal(ACTORS.pref13.subject, Role.PREFECT, departement="2A")
    async with serve(settings) as http:
        mine = auth_headers(settings, ACTORS.pref13)
        await exhaust(lambda: http.get(ME, headers=mine), 2, klass="read")
        for other in (twin, ACTORS.pref75):
            response = await http.get(ME, headers=auth_headers(settings, other))
            assert response.status_code == 200, response.text
            assert response.headers["ratelimit-remaining"] == "1"


async def test_api4_a_forged_token_is_counted_by_address_not_by_its_claims(
    make_settings: Callable[..., Settings],
) -> None:
    """A token that does not verify gets no budget of its own: inventing subjects does not
    buy fresh quotas."""
    settings = make_settings(rate_limits={"anonymous_read": "2/minute"})
    forged = test_settings(settings.database_url, jwt_secret="another-secret-" + "x" * 32)
    async with serve(settings) as http:

        async def send() -> Response:
            who = Principal(f"forged-{uuid.uuid4().hex}", Role.DINUM)
            return await http.get(ME, headers=auth_headers(forged, who))

        refused = await exhaust(send, 2, klass="read")
        assert refused.status_code == 429


# -- anonymous callers: the client address, the forwarded one from trusted proxies only --------


async def test_api4_anonymous_callers_are_counted_by_client_address(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(rate_limits={"anonymous_read": "2/minute"})
    async with serve_from(settings, ("203.0.113.1", 1000), ("203.0.113.2", 1000)) as clients:
        first, second = clients
        await exhaust(lambda: first.get(PROGRAMME), 2, klass="read")
        response = await second.get(PROGRAMME)
        assert response.status_code == 200
        assert response.headers["ratelimit-remaining"] == "1"


async def test_api4_x_forwarded_for_is_honoured_from_a_trusted_proxy(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        rate_limits={"anonymous_read": "2/minute"}, forwarded_allow_ips="10.0.0.0/8, 127.0.0.1"
    )
    async with serve(settings, client=("10.1.2.3", 5000)) as proxy:
        alice = {"X-Forwarded-For": "198.51.100.7"}
        await exhaust(lambda: proxy.get(PROGRAMME, headers=alice), 2, klass="read")
        # another client behind the same proxy has its own budget; a hop the client added
        # itself (left of the trusted chain) does not change who is counted
        bob = {"X-Forwarded-For": "198.51.100.8, 10.9.9.9"}
        assert (await proxy.get(PROGRAMME, headers=bob)).headers["ratelimit-remaining"] == "1"
        spoof = {"X-Forwarded-For": "1.2.3.4, 198.51.100.7"}
        assert_too_many(await proxy.get(PROGRAMME, headers=spoof), limit=2, klass="read")


async def test_api4_x_forwarded_for_is_ignored_from_an_untrusted_peer(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        rate_limits={"anonymous_read": "2/minute"}, forwarded_allow_ips="10.0.0.0/8"
    )
    async with serve(settings, client=("203.0.113.66", 5000)) as attacker:
        counter = iter(range(1000))

        async def send() -> Response:
            # a fresh forged address each time: none of them is believed
            return await attacker.get(
                PROGRAMME, headers={"X-Forwarded-For": f"192.0.2.{next(counter)}"}
            )

        await exhaust(send, 2, klass="read")


# -- shared store, exemptions, switch, outage --------------------------------------------------


async def test_api4_two_app_instances_share_one_redis_budget(
    app: FastAPI, settings: Settings, key_prefix: str
) -> None:
    settings = test_settings(
        settings.database_url,
        rate_limit_storage_url=require_redis(),
        rate_limit_key_prefix=key_prefix,
        rate_limits={"candidate_read": "4/minute"},
    )
    headers = auth_headers(settings, ACTORS.cand_a)
    async with serve(settings) as one, serve(settings) as two:
        for http in (one, two, one, two):
            assert (await http.get(ME, headers=headers)).status_code == 200
        assert_too_many(await two.get(ME, headers=headers), limit=4, klass="read")
        assert_too_many(await one.get(ME, headers=headers), limit=4, klass="read")


async def test_api4_probes_are_never_limited(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(rate_limits={"anonymous_read": "1/minute"})
    async with serve(settings) as http:
        for _ in range(5):
            for path in ("/healthz", "/readyz"):
                response = await http.get(path)
                assert response.status_code == 200, response.text
                assert not any(h in response.headers for h in RATE_HEADERS)


async def test_api4_one_setting_turns_limiting_off(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(rate_limit_enabled=False, rate_limits={"anonymous_read": "1/minute"})
    async with serve(settings) as http:
        for _ in range(5):
            response = await http.get(PROGRAMME)
            assert response.status_code == 200
            assert not any(h in response.headers for h in RATE_HEADERS)


@pytest.mark.parametrize("enabled", [True, False])
async def test_api4_the_route_takes_the_principal_the_limiter_verified(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    """Issue 28: a token is turned into its principal once per request: by the limiter when
    it counts the call, else by the route's dependency; the answer is the same."""
    from app.auth import dependencies

    built: list[object] = []
    original = dependencies.principal_of

    def counting(claims: Any) -> Any:
        built.append(claims)
        return original(claims)

    monkeypatch.setattr(dependencies, "principal_of", counting)  # the route's, not the limiter's
    settings = make_settings(rate_limit_enabled=enabled)
    async with serve(settings) as http:
        response = await http.get(PROJECTS, headers=auth_headers(settings, ACTORS.cand_a))
    assert response.status_code == 200, response.text
    assert len(built) == (0 if enabled else 1)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _silent_listener() -> Iterator[int]:
    """A port that accepts TCP connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield int(server.getsockname()[1])


@pytest.mark.parametrize("store", ["closed port", "silent listener"])
async def test_api4_a_redis_outage_serves_requests_unlimited_and_logs_it(
    settings: Settings, store: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Fail-open: no 500, no 503, no RateLimit headers, a warning, a bounded delay."""
    with _silent_listener() as silent:
        port = _closed_port() if store == "closed port" else silent
        broken = test_settings(
            settings.database_url,
            rate_limit_storage_url=f"redis://127.0.0.1:{port}/0",
            rate_limit_storage_timeout_ms=200,
            rate_limits={"anonymous_read": "1/minute", "candidate_write": "1/minute"},
        )
        caplog.set_level(logging.WARNING, logger="app.ratelimit")
        async with serve(broken) as http:
            started = time.perf_counter()
            for _ in range(3):
                response = await http.get(PROGRAMME)
                assert response.status_code == 200, response.text
                assert not any(h in response.headers for h in RATE_HEADERS)
            write = await http.post(PROJECTS, headers=auth_headers(broken, ACTORS.cand_a), json={})
            assert write.status_code == 422  # served (validation), not 429/500/503
            elapsed = time.perf_counter() - started
    assert elapsed < 5, elapsed  # one timeout, then the store is left alone for a while
    assert any("rate limit store unavailable" in r.getMessage() for r in caplog.records)
