"""R-HOOK-1 (issue 23, point 6): concurrent replays of one range, each in its own session and
transaction, queue each event once (a replay never queues an event already pending for the
subscription: replays of one subscription take its row's lock on PostgreSQL; SQLite
serialises writers)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from httpx import AsyncClient
from sqlalchemy import update
from sqlmodel import col, select

from app.audit.models import AuditEvent
from app.core.config import Settings
from app.webhooks.models import WebhookDelivery
from app.webhooks.rules import EventType
from tests.concurrency.conftest import World
from tests.concurrency.test_r_hook_1_webhook_delivery import (
    DINUM,
    committee_closes,
    deliveries,
    receiver,  # noqa: F401 (fixture: the delivery settings' receiver)
    settings,  # noqa: F401 (fixture)
    subscribe,
    subscriptions,  # noqa: F401 (fixture)
)

TARGET = "https://93.184.216.34/guichet"  # a public address: no DNS, never delivered here
REPLAYS = 6


async def test_r_hook_1_concurrent_replays_of_one_range_queue_each_event_once(
    world: World,
    http: AsyncClient,
    settings: Settings,  # noqa: F811
    subscriptions: list[uuid.UUID],  # noqa: F811
) -> None:
    departement = "72"
    subscription_id, _ = await subscribe(
        world, settings, subscriptions, TARGET, [EventType.COMMITTEE_CLOSED]
    )
    await committee_closes(world, [departement] * 31)
    async with world.sessionmaker() as session, session.begin():
        anchor, *events = (
            await session.execute(
                select(AuditEvent.id)
                .where(AuditEvent.object_type == "committee")
                .where(AuditEvent.departement == departement)
                .order_by(col(AuditEvent.seq))
            )
        ).scalars()
        await session.execute(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.subscription_id) == subscription_id)
            .values(status="delivered")
        )
    responses = await asyncio.gather(
        *(
            http.post(
                f"/api/v1/webhooks/{subscription_id}/replay",
                params={"after": str(anchor)},
                headers=world.headers(DINUM),
            )
            for _ in range(REPLAYS)
        )
    )
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    answers = [r.json() for r in responses]
    assert sum(a["queued"] for a in answers) == len(events)
    assert sum(a["already_pending"] for a in answers) == len(events) * (REPLAYS - 1)
    pending = Counter(
        d.event_id for d in await deliveries(world, subscription_id) if d.status == "pending"
    )
    assert pending == Counter(events)
