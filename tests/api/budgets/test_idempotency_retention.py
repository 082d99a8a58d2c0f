"""Idempotency-Key retention (RELIABILITY.md §4): a key is kept 24 hours of REAL time.

The service's business clock may be shifted (demonstrations, the suite's 2021 programme) and
moved (`clock_at`), but a key's lifetime is what the client retrying it lives by: moving the
business clock must neither expire a key sent a moment ago nor keep one sent days ago.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.idempotency import RETENTION, IdempotencyRecord
from tests.api.budgets.driver import Money, count

KEY = "acompte-2021-0007"


async def payments_of(session: AsyncSession, project_id: uuid.UUID) -> int:
    return await count(
        session, "SELECT COUNT(*) FROM payment WHERE project_id = :p", p=project_id.hex
    )


async def test_a_key_outlives_a_jump_of_the_business_clock(
    money: Money,
    session: AsyncSession,
    under_convention: uuid.UUID,
    clock_at: Callable[[str], object],
) -> None:
    first = await money.pay(under_convention, "instalment", 100_000, key=KEY)
    assert first.status_code == 201, first.text
    clock_at("2021-03-20")  # weeks later on the service's clock, a second later in real time
    replay = await money.pay(
        under_convention, "instalment", 100_000, key=KEY, paid_on=first.json()["paid_on"]
    )
    assert replay.status_code == 201, replay.text
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json() == first.json()
    assert await payments_of(session, under_convention) == 1


async def test_a_key_older_than_the_retention_is_free_again(
    money: Money, session: AsyncSession, under_convention: uuid.UUID
) -> None:
    first = await money.pay(under_convention, "instalment", 100_000, key=KEY)
    assert first.status_code == 201, first.text
    expired = datetime.now(UTC) - RETENTION - timedelta(minutes=1)
    await session.execute(
        update(IdempotencyRecord).where(IdempotencyRecord.key == KEY).values(created_at=expired)
    )
    await session.commit()
    second = await money.pay(under_convention, "instalment", 100_000, key=KEY)
    assert second.status_code == 201, second.text
    assert "Idempotent-Replayed" not in second.headers
    assert second.json()["id"] != first.json()["id"]
    assert await payments_of(session, under_convention) == 2
