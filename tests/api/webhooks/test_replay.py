"""R-HOOK-1 replays (issue 23, point 6): replaying one range again and again queues each
event once while it is pending (five replays of one range queued five times each event), and
one call is bounded (it queued up to 10,000 deliveries): it stops after `REPLAY_MAX` events of
the chain and gives `next_after` to continue."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.webhooks import service as webhooks_service
from tests.api.webhooks.test_subscriptions import HOOKS, create
from tests.conftest import Actors


async def closed_committees(
    session: AsyncSession, actors: Actors, departement: str, count: int
) -> list[uuid.UUID]:
    """`count` committee.closed events (and one before them, to replay after), committed;
    returns their ids, the anchor first."""
    for index in range(count + 1):
        await audit.record(
            session,
            actors.dinum,
            object_type="committee",
            object_id=f"c-{departement}-{index}",
            departement=departement,
            action="closed",
        )
        await session.commit()
    ids = (
        await session.execute(
            select(AuditEvent.id)
            .where(AuditEvent.object_type == "committee", AuditEvent.departement == departement)
            .order_by(col(AuditEvent.seq))
        )
    ).scalars()
    return list(ids)


async def outbox(session: AsyncSession, subscription_id: str) -> list[tuple[str, str]]:
    rows = await session.execute(
        text(
            "SELECT event_id, status FROM webhook_delivery WHERE subscription_id = :s ORDER BY id"
        ),
        {"s": uuid.UUID(subscription_id).hex if _is_sqlite(session) else subscription_id},
    )
    return [(str(uuid.UUID(str(r[0]))), r[1]) for r in rows]


def _is_sqlite(session: AsyncSession) -> bool:
    return session.bind.dialect.name == "sqlite"


async def replay(client: AsyncClient, headers: Any, who: Any, hook: str, after: Any) -> Any:
    response = await client.post(
        f"{HOOKS}/{hook}/replay", params={"after": str(after)}, headers=headers(who)
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_r_hook_1_a_replay_never_queues_an_event_already_pending(
    client: AsyncClient, headers: Any, actors: Actors, session: AsyncSession
) -> None:
    hook = (await create(client, headers, actors.pref13, types=["committee.closed"])).json()["id"]
    anchor, *events = await closed_committees(session, actors, "13", 3)
    # the fan-out queued each once; the receiver got them
    assert [e for e, _ in await outbox(session, hook)] == [str(e) for e in [anchor, *events]]
    await session.execute(text("UPDATE webhook_delivery SET status = 'delivered'"))
    await session.commit()

    # the receiver lost them: five replays of the range queue each event once
    answers = [await replay(client, headers, actors.pref13, hook, anchor) for _ in range(5)]
    assert answers[0] == {"queued": 3, "already_pending": 0, "next_after": None}
    assert answers[1:] == [{"queued": 0, "already_pending": 3, "next_after": None}] * 4
    pending = [e for e, status in await outbox(session, hook) if status == "pending"]
    assert pending == [str(e) for e in events]
    # a replay from the second event on skips what is pending, whatever the range
    again = await replay(client, headers, actors.pref13, hook, events[0])
    assert again == {"queued": 0, "already_pending": 2, "next_after": None}

    # once delivered again, a replay queues them again (a receiver may lose them twice)
    await session.execute(text("UPDATE webhook_delivery SET status = 'delivered'"))
    await session.commit()
    assert (await replay(client, headers, actors.pref13, hook, anchor))["queued"] == 3


async def test_r_hook_1_a_replay_is_bounded_and_says_where_to_continue(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(webhooks_service, "REPLAY_MAX", 3)
    hook = (await create(client, headers, actors.dinum, types=["committee.closed"])).json()["id"]
    anchor, *events = await closed_committees(session, actors, "75", 7)
    await session.execute(text("DELETE FROM webhook_delivery"))
    await session.commit()

    answers, after = [], anchor
    while after is not None:
        answer = await replay(client, headers, actors.dinum, hook, after)
        answers.append(answer)
        after = answer["next_after"]
    assert answers == [
        {"queued": 3, "already_pending": 0, "next_after": str(events[2])},
        {"queued": 3, "already_pending": 0, "next_after": str(events[5])},
        {"queued": 1, "already_pending": 0, "next_after": None},
    ]
    assert [e for e, _ in await outbox(session, hook)] == [str(e) for e in events]


def test_r_hook_1_the_contract_states_the_bound(app: Any) -> None:
    operation = app.openapi()["paths"][f"{HOOKS}/{{subscription_id}}/replay"]["post"]
    assert f"Au plus {webhooks_service.REPLAY_MAX} événements" in operation["description"]
    assert "next_after" in str(app.openapi()["components"]["schemas"]["ReplayResult"])
