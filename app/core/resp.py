"""A minimal Redis client for the rate limiter's one script per request (issue 28).

coredis, which `limits` drives, spends more CPU in Python around a command (retry policies,
timeout contexts, a gathered task, protocol checks) than the command's own round trip: on the
cheapest read that was a tenth of the request. The limiter sends one EVALSHA per request and
needs nothing else, so this client does that only: one connection per process, commands
pipelined on it (RESP replies come back in order: each request waits for its own), the script
loaded by EVAL when the server answers NOSCRIPT.

Plain `redis://[[user]:password@]host[:port][/db]` and `rediss://` (TLS) URLs; any other form
(sentinel, cluster, unix socket, options in the query) keeps coredis. Every failure (refused,
reset, slower than `timeout`, an error reply) raises: the limiter then serves without limit and
backs off (fail-open, app/core/ratelimit.py). A timed-out connection is closed, never reused, so
that a late reply is never read as another request's.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from typing import Any
from urllib.parse import unquote, urlsplit


class RespError(Exception):
    """An error reply, or a connection that broke or answered out of protocol."""


class _Incomplete(Exception):
    pass


def _parse(buffer: bytes, at: int) -> tuple[Any, int]:
    """One RESP2 value from `buffer[at:]` and the offset after it; _Incomplete if cut short."""
    end = buffer.find(b"\r\n", at)
    if end < 0:
        raise _Incomplete
    kind, line = buffer[at : at + 1], buffer[at + 1 : end]
    at = end + 2
    if kind == b":":
        return int(line), at
    if kind == b"$":
        size = int(line)
        if size < 0:
            return None, at
        if len(buffer) < at + size + 2:
            raise _Incomplete
        return buffer[at : at + size], at + size + 2
    if kind == b"*":
        count = int(line)
        if count < 0:
            return None, at
        items = []
        for _ in range(count):
            item, at = _parse(buffer, at)
            items.append(item)
        return items, at
    if kind == b"+":
        return line, at
    if kind == b"-":
        return RespError(line.decode("utf-8", "replace")), at
    raise RespError(f"unexpected reply type {kind!r}")


def encode(*parts: bytes | str | int | float) -> bytes:
    """A command as a RESP array of bulk strings (floats as repr: exact round trip)."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.buffer = b""
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        at = 0
        while at < len(self.buffer):
            try:
                value, at_next = _parse(self.buffer, at)
            except _Incomplete:
                break
            except (ValueError, RespError) as exc:
                self.fail(RespError(f"unreadable reply: {exc}"))
                return
            at = at_next
            if not self.waiting:
                self.fail(RespError("a reply nobody asked for"))
                return
            future = self.waiting.popleft()
            if not future.done():
                future.set_result(value)
        self.buffer = self.buffer[at:]

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(RespError(f"connection lost: {exc!r}"))

    def fail(self, exc: Exception) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(exc)

    def send(self, command: bytes) -> asyncio.Future[Any]:
        if self.closed or self.transport is None:
            raise RespError("connection closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        self.transport.write(command)
        return future


class ScriptClient:
    """Runs one Lua script with EVALSHA on one pipelined connection."""

    def __init__(self, url: str, script: str, *, timeout: float) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "localhost"
        self.port = parts.port or 6379
        self.ssl = ssl.create_default_context() if parts.scheme == "rediss" else None
        self.setup: list[bytes] = []
        if parts.password is not None:
            user = unquote(parts.username) if parts.username else None
            password = unquote(parts.password)
            self.setup.append(encode("AUTH", user, password) if user else encode("AUTH", password))
        db = parts.path.strip("/")
        if db and db != "0":
            self.setup.append(encode("SELECT", int(db)))
        self.script = script
        self.sha = hashlib.sha1(script.encode()).hexdigest()
        self.timeout = timeout
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @staticmethod
    def handles(url: str) -> bool:
        """Whether this client speaks to `url` (else coredis does)."""
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss") or parts.query or parts.fragment:
            return False
        db = parts.path.strip("/")
        return (not db or db.isdigit()) and "," not in parts.netloc and bool(parts.hostname)

    async def _connection(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        protocol = self._protocol
        if protocol is not None and not protocol.closed and self._loop is loop:
            return protocol
        if self._connecting is None or self._loop is not loop:
            # Another event loop (an app reused across test loops): a connection of its own.
            self._connecting, self._loop, self._protocol = asyncio.Lock(), loop, None
        async with self._connecting:
            current = self._protocol
            if current is not None and not current.closed:
                return current
            _, fresh = await asyncio.wait_for(
                loop.create_connection(_Protocol, self.host, self.port, ssl=self.ssl),
                self.timeout,
            )
            try:
                for command in self.setup:
                    await self._ask(fresh, command)
            except BaseException:
                fresh.fail(RespError("setup failed"))
                raise
            self._protocol = fresh
            return fresh

    async def _ask(self, protocol: _Protocol, command: bytes) -> Any:
        future = protocol.send(command)
        # Past the timeout the connection is failed, every request waiting on it with it: a
        # late reply would otherwise be read as the next request's.
        timer = asyncio.get_running_loop().call_later(
            self.timeout, protocol.fail, RespError("timed out")
        )
        try:
            reply = await future
        finally:
            timer.cancel()
        if isinstance(reply, RespError):
            raise reply
        return reply

    async def run(self, keys: list[str], args: list[Any]) -> Any:
        """The script's reply for these keys and arguments."""
        protocol = await self._connection()
        try:
            return await self._ask(protocol, encode("EVALSHA", self.sha, len(keys), *keys, *args))
        except RespError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        # The server does not know the script yet (or was restarted): EVAL caches it.
        return await self._ask(protocol, encode("EVAL", self.script, len(keys), *keys, *args))
