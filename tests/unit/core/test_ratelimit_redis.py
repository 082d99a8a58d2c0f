"""Issue 28: the limiter's one-round-trip scripts (app/core/ratelimit_redis.py) say what `limits`
says, on the same Redis keys, for each strategy (API4): which hit passes, the remaining amount,
the reset instant; and a budget spent by one is seen by the other (instances running either
code share one budget)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from app.core.ratelimit import Caller, RateLimitService
from app.core.ratelimit_redis import RedisCounters
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
        rate_limit_storage_url=REDIS_URL,
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


async def test_api4_a_burst_counts_every_hit_on_a_bounded_number_of_connections(
    prefix: str,
) -> None:
    """Issue 28: 60 concurrent hits on 3 connections at most: each counted once (60 distinct
    remaining amounts), none refused or left uncounted, no connection opened beyond the bound."""
    svc = service("moving-window", prefix, limit=100, rate_limit_storage_max_connections=3)
    counters = svc.counters
    assert counters is not None
    caller = Caller("dinum", "t:burst")
    decisions = await asyncio.gather(*(svc.hit(caller, "read") for _ in range(60)))
    assert all(d is not None and d.allowed for d in decisions)
    assert sorted(d.remaining for d in decisions if d is not None) == list(range(40, 100))
    assert counters._made == 3 and len(counters._idle) == 3 and not counters._waiting


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
