"""Issue 28: the rate limiter's lean Redis client (app/core/resp.py): replies pipelined on one
connection reach the request that asked for them, an unknown script is loaded, a silent or
closed store fails within the timeout (the limiter then fails open, API4)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from app.core.resp import RespError, ScriptClient, _Incomplete, _parse, encode
from tests.api.test_rate_limit import REDIS_URL, _closed_port, _silent_listener, require_redis


def fresh_script() -> str:
    """A script the server has not cached yet (its first call meets NOSCRIPT)."""
    return f"-- {uuid.uuid4().hex}\nreturn {{ARGV[1], tonumber(ARGV[2]) * 2, KEYS[1]}}"


async def test_concurrent_calls_each_get_their_own_reply() -> None:
    require_redis()
    client = ScriptClient(REDIS_URL, fresh_script(), timeout=2)
    replies = await asyncio.gather(*(client.run([f"k{i}"], [f"v{i}", i]) for i in range(200)))
    assert replies == [[f"v{i}".encode(), 2 * i, f"k{i}".encode()] for i in range(200)]


async def test_another_database_is_selected() -> None:
    require_redis()
    client = ScriptClient(REDIS_URL.removesuffix("/0") + "/1", fresh_script(), timeout=2)
    assert await client.run(["k"], ["v", 1.5]) == [b"v", 3, b"k"]
    assert client.setup == [encode("SELECT", 1)]


async def test_an_error_reply_raises_and_the_connection_serves_on() -> None:
    require_redis()
    client = ScriptClient(REDIS_URL, "return redis.error_reply('boom')", timeout=2)
    with pytest.raises(RespError, match="boom"):
        await client.run([], [])
    with pytest.raises(RespError, match="boom"):
        await client.run([], [])


@pytest.mark.parametrize("store", ["closed port", "silent listener"])
async def test_an_unreachable_store_fails_within_the_timeout(store: str) -> None:
    with _silent_listener() as silent:
        port = _closed_port() if store == "closed port" else silent
        client = ScriptClient(f"redis://127.0.0.1:{port}/0", "return 1", timeout=0.2)
        started = time.perf_counter()
        for _ in range(2):
            with pytest.raises((RespError, OSError, TimeoutError)):
                await client.run(["k"], [])
        assert time.perf_counter() - started < 2


@pytest.mark.parametrize(
    ("url", "handled"),
    [
        ("redis://127.0.0.1:6379/0", True),
        ("redis://:secret@redis.internal:6380", True),
        ("rediss://user:secret@redis.internal/2", True),
        ("redis+sentinel://s1:26379,s2:26379/main", False),
        ("redis+cluster://c1:7000,c2:7000", False),
        ("redis+unix:///run/redis.sock", False),
        ("redis://127.0.0.1:6379/0?protocol_version=3", False),
    ],
)
def test_plain_urls_only(url: str, handled: bool) -> None:
    assert ScriptClient.handles(url) is handled


def test_credentials_are_sent_first() -> None:
    client = ScriptClient("redis://me:s%40cret@h:1/3", "return 1", timeout=1)
    assert client.setup == [encode("AUTH", "me", "s@cret"), encode("SELECT", 3)]


def test_replies_cut_anywhere_wait_for_the_rest() -> None:
    whole = b"*3\r\n$3\r\nabc\r\n:-42\r\n*2\r\n$-1\r\n+OK\r\n"
    for cut in range(len(whole)):
        with pytest.raises(_Incomplete):
            _parse(whole[:cut], 0)
    assert _parse(whole, 0) == ([b"abc", -42, [None, b"OK"]], len(whole))
