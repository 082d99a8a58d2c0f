"""One Redis round trip per rate-limited request, shared by the requests of a turn (issue 28).

`limits` counts a request and then reads the window back in separate commands: the moving
window two scripts (acquire, then the window), the fixed window three or four commands (INCRBY,
EXPIRE on the first hit, GET, TTL), the sliding window counter two scripts. Each is a round trip,
and on this machine a round trip's send is a large share of a cheap read's CPU. Each script here
does both in one EVALSHA: the same Redis commands on the same keys as `limits` 5.x writes them
(`{prefix}:LIMITER/{class}/{caller}/{amount}/{multiples}/{granularity}`, the sliding window's
`{…}` and `{…}/-1`), so instances running either code share one budget, and returns what the
strategy's `get_window_stats` would compute: the remaining amount and the reset instant.

Semantics are `limits`': the scripts are the library's own acquire and window scripts joined,
with the window read at the same instant as the hit (the library reads it a moment later).
The memory store (one process) keeps the library's calls: no round trip there to save.

The client is redis-py (the `limits` storage's `redispy` implementation) with hiredis' reply
parser. Measured per EVALSHA on this machine (CPU, 20,000 sequential calls, local Redis):
coredis' script 140-190 µs, redis-py's Script 115-135 µs, and the EVALSHA sent on a redis-py
connection taken from an idle list of our own 55-75 µs: redis-py's client wraps each command in
its pool's lock, its retry wrapper and its observability records, none of which a counter needs
(a failed hit is not retried: the request is served unlimited, app/core/ratelimit.py). The
connections are redis-py's own, built from the URL by the storage's pool (address, database,
password, TLS, connect timeout); one that fails disconnects itself and reconnects on its next
use. Sentinel and cluster URLs keep the client's Script.

What redis-py would still do on each hit and a counter does without (issue 28, 2026-12-08:
6 to 9 % of an envelope read's instructions, callgrind, A and B side by side): its socket
timeout, which runs each write in a task of its own (`asyncio.wait_for`) and arms a timer on
each read, is replaced by one timeout around the whole exchange (connecting, the write, every
reply); and the commands are packed by `pack`, the same bytes without its encoder's calls.

Pipelined: the hits asked during one turn of the event loop are written together, in one
write on one connection, and their replies read back in order (Redis answers a connection's
commands in the order it received them). Under load a turn starts many requests (each runs up
to its hit), so one system call and one wake-up of the loop serve several of them: the envelope
read took 1.22-1.26 ms of CPU against 1.38-1.46 ms with a write and a read per hit (bench row,
three alternated rounds, 2026-12-07). A lone request waits for no one: its turn ends at once.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from limits import RateLimitItem
from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import NoScriptError, ResponseError

# The moving window: the library's acquire_moving_window.lua, then its moving_window.lua on the
# same list (binary search for the oldest entry inside the window). Returns {acquired, count,
# oldest} (oldest absent when the window is empty).
MOVING_WINDOW = """
local timestamp = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local expiry = tonumber(ARGV[3])
local acquired = 0
local entry = redis.call('lindex', KEYS[1], limit - 1)
if not (entry and tonumber(entry) >= timestamp - expiry) then
    redis.call('lpush', KEYS[1], timestamp)
    redis.call('ltrim', KEYS[1], 0, limit - 1)
    redis.call('expire', KEYS[1], expiry)
    acquired = 1
end
local target = timestamp - expiry
local low, high, index = 0, limit - 1, nil
while low <= high do
    local mid = math.floor((low + high) / 2)
    local val = tonumber(redis.call('lindex', KEYS[1], mid))
    if val and val >= target then
        index = mid
        low = mid + 1
    else
        high = mid - 1
    end
end
if index then
    return {acquired, index + 1, tostring(tonumber(redis.call('lindex', KEYS[1], index)))}
end
return {acquired, 0}
"""

# The fixed window: INCRBY, EXPIRE on the window's first hit (the library's incr), then the
# counter's TTL (its get_expiry). Returns {count, ttl}.
FIXED_WINDOW = """
local current = redis.call('incrby', KEYS[1], 1)
if current == 1 then
    redis.call('expire', KEYS[1], ARGV[1])
end
return {current, redis.call('ttl', KEYS[1])}
"""

# The sliding window counter: the library's acquire_sliding_window.lua (KEYS[1] the previous
# window, KEYS[2] the current one; milliseconds), then the counters as sliding_window.lua reads
# them. Returns {acquired, previous_count, previous_ttl, current_count, current_ttl}.
SLIDING_WINDOW = """
local limit = tonumber(ARGV[1])
local expiry = tonumber(ARGV[2]) * 1000
local current_ttl = tonumber(redis.call('pttl', KEYS[2]))
if current_ttl > 0 and current_ttl < expiry then
    redis.call('rename', KEYS[2], KEYS[1])
    redis.call('set', KEYS[2], 0, 'PX', current_ttl + expiry)
end
local previous_count = tonumber(redis.call('get', KEYS[1])) or 0
local previous_ttl = tonumber(redis.call('pttl', KEYS[1])) or 0
local current_count = tonumber(redis.call('get', KEYS[2])) or 0
current_ttl = tonumber(redis.call('pttl', KEYS[2])) or 0
if previous_ttl <= 0 then
    previous_ttl = 0
end
if current_ttl <= 0 then
    current_ttl = 0
end
local acquired = 0
if math.floor(previous_count * previous_ttl / expiry) + current_count + 1 <= limit then
    if redis.call('exists', KEYS[2]) == 1 then
        redis.call('incrby', KEYS[2], 1)
    else
        redis.call('set', KEYS[2], 1, 'PX', expiry * 2)
    end
    acquired = 1
end
return {acquired, redis.call('get', KEYS[1]), redis.call('pttl', KEYS[1]),
        redis.call('get', KEYS[2]), redis.call('pttl', KEYS[2])}
"""

# (allowed, remaining, reset_at): what `hit` then `get_window_stats` would have said.
Outcome = tuple[bool, int, float]
# A hit waiting to be sent: its script's keys and arguments, and the future its reply goes to.
Queued = tuple[list[str], list[Any], "asyncio.Future[Any]"]


def _fail(batch: list[Queued], exc: BaseException) -> None:
    """Every hit of `batch` still waiting gets `exc` (a cancellation: a ConnectionError)."""
    error = exc if isinstance(exc, Exception) else ConnectionError("rate limit exchange cancelled")
    for _, _, reply in batch:
        if not reply.done():
            reply.set_exception(error)


def _moving(item: RateLimitItem, reply: list[Any], now: float) -> Outcome:
    expiry = item.get_expiry()
    count = int(reply[1])
    oldest = float(reply[2]) if count else now
    return bool(reply[0]), item.amount - count, oldest + expiry


def _fixed(item: RateLimitItem, reply: list[Any], now: float) -> Outcome:
    count, ttl = int(reply[0]), int(reply[1])
    return count <= item.amount, max(0, item.amount - count), max(ttl, 0) + time.time()


def _number(value: Any) -> float:
    return float(value) if value is not None else 0.0


def _period_left(expires_in: float, period: float) -> float:
    """`expires_in % period`, a whole period when that is 0 but time is left: the library reads
    the TTL a moment after its hit (a counter just set for two windows has 119.999 s left:
    59.999 s to its reset), the script at the hit's instant (120 s: 0 s, which would tell
    the caller the window resets now)."""
    left = expires_in % period
    return period if left == 0 and expires_in > 0 else left


def _sliding(item: RateLimitItem, reply: list[Any], now: float) -> Outcome:
    """SlidingWindowCounterRateLimiter.get_window_stats on the counters the script read."""
    expiry = item.get_expiry()
    previous_count = int(_number(reply[1]))
    previous_expires_in = max(0.0, _number(reply[2])) / 1000
    current_count = int(_number(reply[3]))
    current_expires_in = max(0.0, _number(reply[4])) / 1000
    weighted = previous_count * previous_expires_in / expiry + current_count
    remaining = max(0, item.amount - math.floor(weighted))
    now = time.time()
    if not (previous_count or current_count):
        return bool(reply[0]), remaining, now
    previous_reset_in = current_reset_in = math.inf
    if previous_count:
        previous_reset_in = _period_left(previous_expires_in, expiry / previous_count)
    if current_count:
        current_reset_in = _period_left(current_expires_in, expiry)
    return bool(reply[0]), remaining, now + min(previous_reset_in, current_reset_in)


def pack(encoding: tuple[str, str], *args: str | int | float) -> bytes:
    """A command in the Redis protocol (RESP), as redis-py's `pack_command` writes it for
    these arguments (str encoded, int and float by their repr), in one piece: its encoder and
    its chunking of large values (none here) cost a tenth of the limiter's work a hit
    (issue 28; tests/unit/core/test_ratelimit_redis.py compares the bytes)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode(*encoding) if isinstance(arg, str) else repr(arg).encode()
        parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(parts)


class RedisCounters:
    """Count one request and read its window back, in one EVALSHA on connections of the
    `limits` storage's own redis-py client (its URL, timeouts and key prefix), sent with the
    other hits of the same turn of the event loop."""

    def __init__(self, storage: Any, strategy: str, *, max_connections: int) -> None:
        bridge = storage.bridge
        self._prefixed: Callable[[str], str] = bridge.prefixed_key
        self._source = {
            "moving-window": MOVING_WINDOW,
            "fixed-window": FIXED_WINDOW,
            "sliding-window-counter": SLIDING_WINDOW,
        }[strategy]
        client = bridge.get_connection()
        self._script = client.register_script(self._source)
        self._sha: str = self._script.sha
        pool = getattr(client, "connection_pool", None)
        # A plain pool only: a sentinel's connections find their master through their pool,
        # a cluster has no pool; both keep the client's Script.
        self._connect: Callable[[], AbstractConnection] | None = None
        self._timeout: float | None = None
        self._encoding = ("utf-8", "strict")
        if type(pool) is ConnectionPool:
            # The pool's connections, but for the socket timeout: one timeout bounds a whole
            # exchange instead (`_exchange`). redis-py's, on each write, runs the write in a task
            # of its own (`asyncio.wait_for`) and arms a timer on each read (issue 28).
            options = {**pool.connection_kwargs, "socket_timeout": None}
            self._timeout = pool.connection_kwargs.get("socket_timeout")
            self._encoding = (
                options.get("encoding", "utf-8"),
                options.get("encoding_errors", "strict"),
            )
            self._connect = partial(pool.connection_class, **options)
        self._idle: list[AbstractConnection] = []
        self._made = 0
        self._max_connections = max_connections
        self._waiting: deque[asyncio.Future[AbstractConnection]] = deque()
        self._strategy = strategy
        self._queued: list[Queued] = []  # the hits of this turn of the event loop
        self._exchanges: set[asyncio.Task[None]] = set()

    async def _take(self) -> AbstractConnection:
        """An idle connection, a new one below `max_connections`, else the next one given back
        (in the order asked). A burst of requests no longer opens a connection each: 200
        concurrent submissions made 136 new ones, each a TCP connect, its handshake commands
        and redis-py's lookup of its own version in the package metadata (issue 28)."""
        if self._idle:
            return self._idle.pop()
        if self._made < self._max_connections and self._connect is not None:
            self._made += 1
            return self._connect()
        waiter: asyncio.Future[AbstractConnection] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._give(waiter.result())  # given, then cancelled: to the next one
            raise

    def _give(self, conn: AbstractConnection) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    async def _run(self, keys: list[str], args: list[Any]) -> Any:
        """The script's reply for `keys` and `args`, sent with the other hits of this turn of
        the event loop (`_send_queued`)."""
        if self._connect is None:
            return await self._script(keys, args)
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        if not self._queued:  # the turn's first hit: the others join it until the turn ends
            loop.call_soon(self._send_queued)
        self._queued.append((keys, args, reply))
        return await reply

    def _send_queued(self) -> None:
        batch, self._queued = self._queued, []
        task = asyncio.get_running_loop().create_task(self._exchange(batch))
        self._exchanges.add(task)  # held until done: the loop keeps only a weak reference
        task.add_done_callback(self._exchanges.discard)

    async def _exchange(self, batch: list[Queued]) -> None:
        """The batch's EVALSHAs written at once on one connection, their replies read in
        order (Redis answers a connection's commands in the order sent); the ones refused
        NOSCRIPT (a restarted or flushed Redis) sent again as EVAL, which caches the script.
        A failure fails every hit not yet answered (served unlimited: app/core/ratelimit.py)."""
        try:
            conn = await self._take()
        except BaseException as exc:
            _fail(batch, exc)
            raise
        try:
            # Connecting, writing and reading every reply: within the store's timeout. Past
            # it, the read under way is cancelled and its connection disconnects itself
            # (redis-py closes a connection whose exchange was interrupted).
            async with asyncio.timeout(self._timeout):
                unknown = await self._send(conn, "EVALSHA", self._sha, batch)
                if unknown:
                    await self._send(conn, "EVAL", self._source, unknown)
        except BaseException as exc:
            _fail(batch, exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            # A connection that failed has disconnected itself: it reconnects when next used.
            self._give(conn)

    async def _send(
        self, conn: AbstractConnection, command: str, script: str, batch: list[Queued]
    ) -> list[Queued]:
        """`command` (EVALSHA or EVAL) for each hit of `batch` in one write; each reply to its
        hit. Returns the hits Redis answered NOSCRIPT."""
        packed = [
            pack(self._encoding, command, script, len(keys), *keys, *args)
            for keys, args, _ in batch
        ]
        await conn.send_packed_command(b"".join(packed))
        unknown = []
        for queued in batch:
            try:
                reply = await conn.read_response()
            except NoScriptError:
                unknown.append(queued)
                continue
            except ResponseError as exc:  # this hit's own error: the next replies still follow
                reply = exc
            if not queued[2].done():  # else its request is gone (cancelled)
                if isinstance(reply, ResponseError):
                    queued[2].set_exception(reply)
                else:
                    queued[2].set_result(reply)
        return unknown

    async def hit(self, item: RateLimitItem, *identifiers: str) -> Outcome:
        key = self._prefixed(item.key_for(*identifiers))
        expiry = item.get_expiry()
        now = time.time()
        if self._strategy == "moving-window":
            reply = await self._run([key], [now, item.amount, expiry])
            return _moving(item, reply, now)
        if self._strategy == "fixed-window":
            reply = await self._run([key], [expiry])
            return _fixed(item, reply, now)
        current = self._prefixed("{" + item.key_for(*identifiers) + "}")
        reply = await self._run([current + "/-1", current], [item.amount, expiry])
        return _sliding(item, reply, now)
