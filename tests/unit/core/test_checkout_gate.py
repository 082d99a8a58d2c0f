"""app.core.db.CheckoutGate: requests reach the connection pool in arrival order, a wait is
bounded by the pool timeout and answered 503, and a slot is never lost (issue 13)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from app.core.config import Settings
from app.core.db import CheckoutGate, make_engine
from app.core.errors import DatabaseUnavailable
from app.core.reads import read_connection


async def _enter(gate: CheckoutGate, name: str, order: list[str], leave: asyncio.Event) -> None:
    async with gate.admitted():
        order.append(name)
        await leave.wait()


async def test_a_freed_slot_goes_to_the_oldest_waiter_not_to_a_newcomer() -> None:
    """The pool's own queue lets a request that reaches it in the same turn of the event loop
    as a connection comes back take it ahead of the waiter woken for it (which then queues
    again at the back): under load some requests starved past the timeout. The gate serves
    them in arrival order."""
    gate = CheckoutGate(slots=1, timeout=5)
    order: list[str] = []
    done = asyncio.Event()
    done.set()  # B and C leave as soon as they are admitted
    held = gate.admitted()
    await held.__aenter__()  # this request holds the only slot
    waiters = [asyncio.create_task(_enter(gate, name, order, done)) for name in "BC"]
    await asyncio.sleep(0)
    assert order == []  # B and C wait
    await held.__aexit__(None, None, None)  # B is woken, and has not run yet
    async with gate.admitted():  # this request asks again, in the same turn
        order.append("again")
    await asyncio.gather(*waiters)
    assert order == ["B", "C", "again"]


async def test_a_wait_past_the_pool_timeout_is_a_503() -> None:
    gate = CheckoutGate(slots=1, timeout=0.05)
    leave = asyncio.Event()
    holder = asyncio.create_task(_enter(gate, "A", [], leave))
    await asyncio.sleep(0)
    with pytest.raises(DatabaseUnavailable) as caught:
        async with gate.admitted():
            pass
    assert caught.value.status == 503
    assert caught.value.headers is not None and "Retry-After" in caught.value.headers
    leave.set()
    await holder
    async with gate.admitted():  # the holder's slot came back, the refused one took none
        pass


async def test_a_slot_comes_back_when_the_request_fails_or_is_cancelled() -> None:
    gate = CheckoutGate(slots=1, timeout=0.05)
    with pytest.raises(RuntimeError):
        async with gate.admitted():
            raise RuntimeError("the request failed")
    leave = asyncio.Event()
    cancelled = asyncio.create_task(_enter(gate, "A", [], leave))
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    async with gate.admitted():  # one slot, free again
        pass


def test_the_gate_is_as_wide_as_the_pool_and_absent_without_a_queue_pool() -> None:
    postgres = "postgresql+asyncpg://postgres@127.0.0.1:5432/not_connected"  # no connection made
    settings = Settings(database_url=postgres, database_pool_size=7, database_pool_overflow=2)
    gate = CheckoutGate.for_engine(make_engine(settings), settings)
    assert gate is not None and gate._slots._value == 9
    null_pool = Settings(database_url=postgres, database_pool="null")
    assert CheckoutGate.for_engine(make_engine(null_pool), null_pool) is None
    sqlite = Settings(database_url="sqlite+aiosqlite:///:memory:")
    assert CheckoutGate.for_engine(make_engine(sqlite), sqlite) is None


class _Pool:
    """A reads' pool whose connections are counted, or which cannot open one."""

    def __init__(self, *, down: bool) -> None:
        self.down, self.out = down, 0

    async def acquire(self) -> object:
        if self.down:
            raise DatabaseUnavailable()
        self.out += 1
        return object()

    async def release(self, _read: object) -> None:
        self.out -= 1


def _request(gate: CheckoutGate, pool: _Pool) -> Any:
    state = SimpleNamespace(checkout_gate=gate, read_pool=pool, read_engines={})
    return SimpleNamespace(app=SimpleNamespace(state=state))


async def test_a_read_gives_back_its_slot_and_its_connection_however_it_ends() -> None:
    """Issue 28: `read_connection` takes the gate's slot and the reads' pool's connection
    itself (no nested context managers): a pool that cannot open a connection (503), a read
    that fails and a read that is cancelled each give both back."""
    gate = CheckoutGate(slots=1, timeout=0.05)
    down = _request(gate, _Pool(down=True))
    for _ in range(2):  # the second is refused by the pool, not by the gate's timeout
        with pytest.raises(DatabaseUnavailable):
            async with read_connection(down, snapshot=False):
                raise AssertionError("no connection to read on")
    pool = _Pool(down=False)
    up = _request(gate, pool)
    with pytest.raises(RuntimeError):
        async with read_connection(up, snapshot=False):
            assert pool.out == 1
            raise RuntimeError("the read failed")
    assert pool.out == 0

    async def read(leave: asyncio.Event) -> None:
        async with read_connection(up, snapshot=False):
            await leave.wait()

    reading = asyncio.create_task(read(asyncio.Event()))
    await asyncio.sleep(0)
    assert pool.out == 1
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    assert pool.out == 0
    async with gate.admitted():  # the one slot, free again
        pass
