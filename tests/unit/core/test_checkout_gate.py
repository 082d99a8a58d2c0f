"""app.core.db.CheckoutGate: requests reach the connection pool in arrival order, a wait is
bounded by the pool timeout and answered 503, and a slot is never lost (issue 13)."""

from __future__ import annotations

import asyncio

import pytest

from app.core.config import Settings
from app.core.db import CheckoutGate, make_engine
from app.core.errors import DatabaseUnavailable


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
