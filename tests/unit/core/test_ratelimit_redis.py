"""Issue 28: the limiter's one-round-trip scripts (app/core/ratelimit_redis.py) say what `limits`
says, on the same Redis keys, for each strategy (API4): which hit passes, the remaining amount,
the reset instant; and a budget spent by one is seen by the other (instances running either
code share one budget)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError, ResponseError

from app.core.ratelimit import Caller, RateLimitService
from app.core.ratelimit_redis import MOVING_WINDOW, RedisCounters, pack
from tests.api.test_rate_limit import REDIS_URL, _cleanup, redis_up, require_redis
from tests.support import test_settings

STRATEGIES = ["moving-window", "fixed-window", "sliding-window-counter"]
LIMIT = 3


@pytest.fixture
def prefix() -> Iterator[str]:
    value = f"guichet-test-{uuid.uuid4().hex[:12]}"
    yield value
    if redis_up():
        _cleanup(value)


def service(
    strategy: str, prefix: str, *, limit: int = LIMIT, **overrides: object
) -> RateLimitService:
    require_redis()
    settings = test_settings(
        "sqlite+aiosqlite://",
        rate_limit_storage_url=overrides.pop("rate_limit_storage_url", REDIS_URL),
        rate_limit_key_prefix=prefix,
        rate_limit_strategy=strategy,
        rate_limits={"dinum_read": f"{limit}/minute"},
        **overrides,
    )
    return RateLimitService(settings)


async def library(svc: RateLimitService, caller: Caller) -> tuple[bool, int, float]:
    """What `limits` itself answers: hit, then the window's stats."""
    item = svc.items[(caller.role, "read")]
    allowed = await svc.strategy.hit(item, "read", caller.key)
    stats = await svc.strategy.get_window_stats(item, "read", caller.key)
    return allowed, stats.remaining, stats.reset_time


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_api4_one_round_trip_answers_as_the_library_does(strategy: str, prefix: str) -> None:
    svc = service(strategy, prefix)
    assert isinstance(svc.counters, RedisCounters)
    ours, theirs = Caller("dinum", "t:ours"), Caller("dinum", "t:theirs")
    item = svc.items[("dinum", "read")]
    for _ in range(LIMIT + 2):
        mine = await svc.counters.hit(item, "read", ours.key)
        reference = await library(svc, theirs)
        assert mine[:2] == reference[:2], (mine, reference)
        gap = abs(mine[2] - reference[2])
        # The library reads a sliding counter's TTL after its hit: in the very millisecond it
        # was set for two windows (120 s), 120 % 60 tells "resets now"; the script says 60 s.
        edge = strategy == "sliding-window-counter" and abs(gap - 60) < 1.0
        assert gap < 1.0 or edge, (mine, reference)
    decision = await svc.hit(ours, "read")
    assert decision is not None and not decision.allowed and decision.remaining <= 0


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_api4_the_scripts_and_the_library_share_one_budget(
    strategy: str, prefix: str
) -> None:
    svc = service(strategy, prefix)
    assert svc.counters is not None
    caller = Caller("dinum", "t:shared")
    item = svc.items[("dinum", "read")]
    assert (await svc.counters.hit(item, "read", caller.key))[:2] == (True, LIMIT - 1)
    assert (await library(svc, caller))[:2] == (True, LIMIT - 2)
    assert (await svc.counters.hit(item, "read", caller.key))[:2] == (True, 0)
    assert (await library(svc, caller))[:2] == (False, 0)
    assert (await svc.counters.hit(item, "read", caller.key))[0] is False


async def test_api4_the_memory_store_keeps_the_library_calls() -> None:
    settings = test_settings("sqlite+aiosqlite://", rate_limit_storage_url="memory://")
    assert RateLimitService(settings).counters is None


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_api4_a_flushed_script_cache_is_loaded_again(strategy: str, prefix: str) -> None:
    """The hit runs EVALSHA on connections of its own (app/core/ratelimit_redis.py): after a
    Redis restart or SCRIPT FLUSH it still counts, through EVAL, on the same budget."""
    svc = service(strategy, prefix)
    assert svc.counters is not None
    caller = Caller("dinum", "t:flushed")
    item = svc.items[("dinum", "read")]
    assert (await svc.counters.hit(item, "read", caller.key))[:2] == (True, LIMIT - 1)
    await svc.storage.bridge.get_connection().script_flush()
    assert (await svc.counters.hit(item, "read", caller.key))[:2] == (True, LIMIT - 2)
    assert (await svc.counters.hit(item, "read", caller.key))[:2] == (True, 0)
    # a write of several hits, all refused NOSCRIPT, all sent again as EVAL, in their order
    await svc.storage.bridge.get_connection().script_flush()
    others = [Caller("dinum", f"t:flushed-{i}") for i in range(4)]
    found = await asyncio.gather(*(svc.counters.hit(item, "read", c.key) for c in others))
    assert [f[:2] for f in found] == [(True, LIMIT - 1)] * 4
    assert (await svc.counters.hit(item, "read", others[0].key))[:2] == (True, LIMIT - 2)


async def test_api4_a_burst_counts_every_hit_on_a_bounded_number_of_connections(
    prefix: str,
) -> None:
    """Issue 28: 60 concurrent hits on 3 connections at most: each counted once (60 distinct
    remaining amounts), none refused or left uncounted, no connection opened beyond the bound.
    The hits of one turn of the event loop go together, in one write on one connection."""
    svc = service("moving-window", prefix, limit=100, rate_limit_storage_max_connections=3)
    counters = svc.counters
    assert counters is not None
    caller = Caller("dinum", "t:burst")
    decisions = await asyncio.gather(*(svc.hit(caller, "read") for _ in range(60)))
    assert all(d is not None and d.allowed for d in decisions)
    # sent in the order asked, counted in that order
    assert [d.remaining for d in decisions if d is not None] == list(range(99, 39, -1))
    assert counters._made == 1 and len(counters._idle) == 1 and not counters._waiting


async def test_api4_hits_of_successive_turns_wait_for_a_connection_within_the_bound(
    prefix: str,
) -> None:
    """Hits arriving while earlier ones are on the wire take other connections, up to the
    bound, then wait for one in turn: every hit counted once."""
    svc = service("fixed-window", prefix, limit=100, rate_limit_storage_max_connections=2)
    counters = svc.counters
    assert counters is not None
    caller = Caller("dinum", "t:turns")

    async def later(turns: int) -> int | None:
        for _ in range(turns):
            await asyncio.sleep(0)
        decision = await svc.hit(caller, "read")
        return None if decision is None else decision.remaining

    answers = await asyncio.gather(*(later(i % 5) for i in range(40)))
    remaining = sorted(r for r in answers if r is not None)
    assert remaining == list(range(60, 100))
    assert counters._made <= 2 and len(counters._idle) == counters._made
    assert not counters._waiting and not counters._queued


async def test_api4_one_hit_s_error_leaves_the_others_of_its_write_answered(prefix: str) -> None:
    """A reply that is an error (here a script run with arguments missing) goes to its own
    hit; the replies after it on the same connection still reach theirs, in order."""
    svc = service("moving-window", prefix, limit=10)
    counters = svc.counters
    assert counters is not None
    caller = Caller("dinum", "t:error")
    item = svc.items[("dinum", "read")]
    key = counters._prefixed(item.key_for("read", "t:broken"))
    outcomes: tuple[Any, ...] = await asyncio.gather(
        counters.hit(item, "read", caller.key),
        counters._run([key], []),  # no timestamp nor limit: the script fails in Redis
        counters.hit(item, "read", caller.key),
        return_exceptions=True,
    )
    before, broken, after = outcomes
    assert isinstance(broken, ResponseError), broken
    assert not isinstance(before, BaseException) and not isinstance(after, BaseException)
    assert before[:2] == (True, 9) and after[:2] == (True, 8)
    assert (await counters.hit(item, "read", caller.key))[:2] == (True, 7)  # still in step


async def test_api4_a_cancelled_hit_leaves_the_connection_in_step(prefix: str) -> None:
    """A request gone (cancelled) while its hit is on the wire: its reply is read and dropped,
    the next hits on that connection get their own replies."""
    svc = service("fixed-window", prefix, limit=10)
    counters = svc.counters
    assert counters is not None
    caller = Caller("dinum", "t:cancelled")
    gone = asyncio.create_task(svc.hit(caller, "read"))
    kept = asyncio.create_task(svc.hit(caller, "read"))
    await asyncio.sleep(0)  # both queued, their write about to be sent
    gone.cancel()
    decision = await kept
    assert decision is not None and decision.remaining == 8  # the gone one was counted first
    with pytest.raises(asyncio.CancelledError):
        await gone
    following = await svc.hit(caller, "read")
    assert following is not None and following.remaining == 7
    await asyncio.sleep(0)  # the exchange's done callback, a turn after its end
    assert counters._made == 1 and counters._idle and not counters._exchanges


async def hits_on(port: int, prefix: str, n: int) -> tuple[RateLimitService, list[Any]]:
    """n hits of one turn on a store at 127.0.0.1:`port` (its timeout 200 ms): the service
    and each hit's outcome (its answer or its error)."""
    svc = service(
        "moving-window",
        prefix,
        rate_limit_storage_url=f"redis://127.0.0.1:{port}/0",
        rate_limit_storage_timeout_ms=200,
    )
    assert svc.counters is not None
    item = svc.items[("dinum", "read")]
    hits = (svc.counters.hit(item, "read", f"t:{i}") for i in range(n))
    return svc, list(await asyncio.gather(*hits, return_exceptions=True))


async def test_api4_a_store_that_fails_fails_every_hit_of_the_write_and_keeps_no_connection(
    prefix: str,
) -> None:
    """Redis unreachable: each hit of the turn gets the error (the middleware then serves the
    request unlimited, tests/api/test_rate_limit.py), nothing left waiting, and the
    connection is given back, to connect again when next used."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    svc, outcomes = await hits_on(port, prefix, 5)
    counters = svc.counters
    assert counters is not None
    assert all(isinstance(o, RedisConnectionError) for o in outcomes), outcomes
    assert counters._made == 1 and len(counters._idle) == 1
    assert not counters._queued and not counters._exchanges


async def test_api4_a_connection_given_to_a_cancelled_request_goes_to_the_next_one(
    prefix: str,
) -> None:
    """A request cancelled while it waits for a connection (its client gone) neither takes one
    nor loses the one it was just given: the next request in line gets it."""
    svc = service("moving-window", prefix, rate_limit_storage_max_connections=1)
    counters = svc.counters
    assert counters is not None
    held = await counters._take()
    gone, given, served = (asyncio.create_task(counters._take()) for _ in range(3))
    await asyncio.sleep(0)  # all three wait, in this order
    gone.cancel()
    await asyncio.sleep(0)
    counters._give(held)  # skips the cancelled one
    given.cancel()  # given the connection, cancelled before it resumed: it passes it on
    assert await served is held
    with pytest.raises(asyncio.CancelledError):
        await given
    assert gone.cancelled() and not counters._waiting and counters._made == 1
    counters._give(held)
    assert counters._idle == [held]


def test_api4_a_hit_is_packed_as_redis_py_packs_it() -> None:
    """`pack` writes the bytes redis-py's `pack_commands` writes for the same command: the
    scripts' arguments (str keys, non-ASCII ones included, a float timestamp, int amounts)."""
    conn = Connection()
    commands = [
        ("EVALSHA", "a" * 40, 1, "p:LIMITER/read/t:é/3/1/minute", 1765152000.123456, 3, 60),
        ("EVAL", MOVING_WINDOW, 2, "{k}/-1", "{k}", 100000, 60),
    ]
    ours = b"".join(pack(("utf-8", "strict"), *command) for command in commands)
    assert ours == b"".join(conn.pack_commands(commands))


async def test_api4_a_store_that_never_answers_fails_the_hits_within_its_timeout(
    prefix: str,
) -> None:
    """Redis accepts the connection and then says nothing (a hung server): the exchange, its
    handshake included, is bounded by the store's one timeout; every hit of the write gets
    the error (served unlimited), the connection is disconnected and given back."""
    heard: list[bytes] = []

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heard.append(await reader.read(65536))  # what it was sent; never a reply
        await reader.read()  # until the client gives up and closes
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        svc, outcomes = await hits_on(port, prefix, 3)
        elapsed = loop.time() - started
        counters = svc.counters
        assert counters is not None
        assert all(isinstance(o, TimeoutError) for o in outcomes), outcomes
        assert 0.15 < elapsed < 2, elapsed
        assert heard, "the client never wrote to the store"
        assert counters._made == 1 and len(counters._idle) == 1
        assert not counters._idle[0].is_connected  # reconnects when next used
        await asyncio.sleep(0)  # the exchange's done callback, a turn after its end
        assert not counters._queued and not counters._exchanges
        decision = await svc.hit(Caller("dinum", "t:0"), "read")
        assert decision is None  # the service serves it unlimited (fail-open)
    finally:
        server.close()
