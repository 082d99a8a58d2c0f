"""R-HOOK-1 end to end: a real receiver on 127.0.0.1 (uvicorn, started here) checks every
signature with the subscriber's secret; retries, order, rotation, disabling, scope, the SSRF
guard, a rolled-back change, and two workers at once on PostgreSQL.

Deliveries need committed rows seen by the worker's own sessions: this folder's fresh database
and committed transactions (tests/concurrency/conftest.py). Each test deletes its
subscriptions (and so their deliveries) when it ends.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from sqlalchemy import delete, func, update
from sqlmodel import col, select

from app.audit import service as audit
from app.auth.principal import Principal, Role
from app.budgets import grants as grants_service
from app.core.config import Settings
from app.webhooks import service as webhooks_service
from app.webhooks.models import WebhookDelivery, WebhookSubscription
from app.webhooks.rules import EventType
from app.webhooks.schemas import SubscriptionCreate
from app.webhooks.worker import RENDERERS, deliver_once
from tests.concurrency.conftest import DINUM, World, prefect_of


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int
    path: str = "/hooks"

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


@dataclass
class Receiver:
    """A webhook receiver: answers the scripted statuses, then 200; keeps every request."""

    statuses: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    url: str = ""
    port: int = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        status = self.statuses.pop(0) if self.statuses else 200
        self.requests.append(Received(headers, body, status, scope["path"]))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.requests if r.status == 200]


def signature_valid(secret: str, received: Received) -> bool:
    """The receiver's check, written from the Standard Webhooks convention (not app code)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = (
        f"{received.headers['webhook-id']}.{received.headers['webhook-timestamp']}.".encode()
        + received.body
    )
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, s) for s in received.headers["webhook-signature"].split(" ")
    )


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    target = Receiver()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(target, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    target.url = f"http://127.0.0.1:{port}/hooks"
    target.port = port
    try:
        yield target
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
def settings(world: World, receiver: Receiver) -> Settings:
    """The world's settings for the receiver (development): http and loopback allowed, and its
    port allowed beside 443 by the operator's list (R-HOOK-1)."""
    return world.settings.model_copy(
        update={"webhook_allow_loopback": True, "webhook_allowed_ports": [receiver.port]}
    )


@pytest_asyncio.fixture
async def subscriptions(world: World) -> AsyncIterator[list[uuid.UUID]]:
    """Ids of the subscriptions a test creates: deleted (with their deliveries) at its end."""
    created: list[uuid.UUID] = []
    yield created
    async with world.sessionmaker() as session, session.begin():
        await session.execute(
            delete(WebhookSubscription).where(col(WebhookSubscription.id).in_(created))
        )


async def subscribe(
    world: World,
    settings: Settings,
    created: list[uuid.UUID],
    url: str,
    types: Iterable[EventType],
    who: Principal = DINUM,
) -> tuple[uuid.UUID, str]:
    async with world.sessionmaker() as session, session.begin():
        subscription, secret = await webhooks_service.create_subscription(
            session,
            who,
            data=SubscriptionCreate(url=url, event_types=list(types)),
            settings=settings,
        )
    created.append(subscription.id)
    return subscription.id, secret


@pytest.fixture(autouse=True)
def summaries_for_committees(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about delivery (order, retries, scope, workers): their committee events
    stand alone, with no committee row to render, so they carry the audit summary as `data`
    (the rendering of a real close is tested in tests/api/committees/test_committee_audit.py)."""
    monkeypatch.delitem(RENDERERS, "committee")


async def committee_closes(world: World, departements: Iterable[str]) -> None:
    """One `committee.closed` event per département given, in one committed transaction (what
    the committees domain will record)."""
    async with world.sessionmaker() as session, session.begin():
        for departement in departements:
            await audit.record(
                session,
                prefect_of(departement),
                object_type="committee",
                object_id=uuid.uuid4(),
                departement=departement,
                action="closed",
                after={"decisions": 3},
            )


async def drain(world: World, settings: Settings, **kwargs: Any) -> int:
    total = 0
    while done := await deliver_once(world.sessionmaker, settings, **kwargs):
        total += done
    return total


async def deliveries(world: World, subscription_id: uuid.UUID) -> list[WebhookDelivery]:
    async with world.sessionmaker() as session, session.begin():
        rows = await session.execute(
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == subscription_id)
            .order_by(col(WebhookDelivery.id))
        )
        return list(rows.scalars().all())


async def subscription_row(world: World, subscription_id: uuid.UUID) -> WebhookSubscription:
    async with world.sessionmaker() as session, session.begin():
        return await session.get_one(WebhookSubscription, subscription_id, populate_existing=True)


# -- the tests --------------------------------------------------------------------------------


async def test_r_hook_1_signed_retried_then_received_exactly_once(
    world: World, settings: Settings, receiver: Receiver, subscriptions: list[uuid.UUID]
) -> None:
    departement = "60"
    await world.open_envelope(departement, 1_000_000)
    [project_id] = await world.dossiers_in_review(departement, 1)
    subscription_id, secret = await subscribe(
        world, settings, subscriptions, receiver.url, [EventType.GRANT_COMMITTED]
    )
    async with world.sessionmaker() as session, session.begin():
        await grants_service.commit_grant(
            session, prefect_of(departement), project_id=project_id, amount_cents=100_000
        )
    receiver.statuses = [500, 500]
    [pending] = await deliveries(world, subscription_id)
    start = pending.next_attempt_at

    assert await deliver_once(world.sessionmaker, settings, now=start) == 1  # 500
    assert await deliver_once(world.sessionmaker, settings, now=start) == 0  # backing off
    assert await deliver_once(world.sessionmaker, settings, now=start + timedelta(seconds=7)) == 1
    assert await drain(world, settings, now=start + timedelta(minutes=7)) == 1  # 200
    assert await drain(world, settings, now=start + timedelta(days=2)) == 0

    assert [r.status for r in receiver.requests] == [500, 500, 200]
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1  # one message
    assert all(signature_valid(secret, r) for r in receiver.requests)
    [accepted] = receiver.accepted
    body = accepted.payload
    assert body["type"] == "grant.committed"
    assert body["id"] == accepted.headers["webhook-id"]
    assert body["data"]["project_id"] == str(project_id)  # GrantRead, as DINUM reads it
    assert body["data"]["amount_cents"] == 100_000
    [delivered] = await deliveries(world, subscription_id)
    assert (delivered.status, delivered.attempts) == ("delivered", 3)
    assert [a["status_code"] for a in delivered.attempt_log] == [500, 500, 200]
    assert all(a["latency_ms"] is not None for a in delivered.attempt_log)


async def test_r_hook_1_a_rolled_back_change_sends_nothing(
    world: World, settings: Settings, receiver: Receiver, subscriptions: list[uuid.UUID]
) -> None:
    subscription_id, _ = await subscribe(
        world, settings, subscriptions, receiver.url, [EventType.COMMITTEE_CLOSED]
    )
    with pytest.raises(RuntimeError):
        async with world.sessionmaker() as session, session.begin():
            await audit.record(
                session,
                DINUM,
                object_type="committee",
                object_id=uuid.uuid4(),
                departement="61",
                action="closed",
            )
            raise RuntimeError("the change fails after its event was recorded")
    await drain(world, settings)
    assert await deliveries(world, subscription_id) == []
    assert receiver.requests == []


async def test_r_hook_1_a_prefect_subscription_gets_only_its_departement(
    world: World, settings: Settings, receiver: Receiver, subscriptions: list[uuid.UUID]
) -> None:
    await subscribe(
        world,
        settings,
        subscriptions,
        receiver.url,
        [EventType.COMMITTEE_CLOSED],
        who=prefect_of("62"),
    )
    await committee_closes(world, ["62", "63", "62", "64"])
    await drain(world, settings)
    departements = [r.payload["data"]["object"]["departement"] for r in receiver.requests]
    assert departements == ["62", "62"]


async def test_r_hook_1_a_rotated_secret_signs_with_the_new_key(
    world: World, settings: Settings, receiver: Receiver, subscriptions: list[uuid.UUID]
) -> None:
    subscription_id, old = await subscribe(
        world, settings, subscriptions, receiver.url, [EventType.COMMITTEE_CLOSED]
    )
    async with world.sessionmaker() as session, session.begin():
        _, new = await webhooks_service.rotate_secret(
            session, DINUM, subscription_id=subscription_id, settings=settings
        )
    assert new != old and new.startswith("whsec_")
    await committee_closes(world, ["65"])
    await drain(world, settings)
    [during_grace] = receiver.requests
    assert len(during_grace.headers["webhook-signature"].split(" ")) == 2
    assert signature_valid(new, during_grace) and signature_valid(old, during_grace)

    async with world.sessionmaker() as session, session.begin():  # the grace period is over
        await session.execute(
            update(WebhookSubscription)
            .where(col(WebhookSubscription.id) == subscription_id)
            .values(previous_secret_until=webhooks_service.real_now() - timedelta(seconds=1))
        )
    await committee_closes(world, ["65"])
    await drain(world, settings)
    after_grace = receiver.requests[-1]
    assert signature_valid(new, after_grace)
    assert not signature_valid(old, after_grace)


async def test_r_hook_1_failing_for_a_day_disables_the_subscription_which_stops(
    world: World, settings: Settings, receiver: Receiver, subscriptions: list[uuid.UUID]
) -> None:
    subscription_id, _ = await subscribe(
        world, settings, subscriptions, receiver.url, [EventType.COMMITTEE_CLOSED]
    )
    receiver.statuses = [503] * 20
    await committee_closes(world, ["66"])
    moment = webhooks_service.real_now()
    attempts = 0
    for _ in range(12):
        attempts += await deliver_once(world.sessionmaker, settings, now=moment)
        moment += timedelta(hours=13)  # beyond the longest wait of the schedule
    assert attempts == 8  # the first try and seven retries over about a day
    disabled = await subscription_row(world, subscription_id)
    assert disabled.status == "disabled"
    assert disabled.disabled_reason and "8 essais" in disabled.disabled_reason
    [failed] = await deliveries(world, subscription_id)
    assert failed.status == "failed"

    await committee_closes(world, ["66"])  # a disabled subscription gets nothing more
    assert await drain(world, settings, now=moment + timedelta(days=1)) == 0
    assert len(receiver.requests) == 8
    assert len(await deliveries(world, subscription_id)) == 1


async def test_r_hook_1_ssrf_guard_refuses_loopback_unless_allowed(
    world: World, settings: Settings, receiver: Receiver, subscriptions: list[uuid.UUID]
) -> None:
    subscription_id, _ = await subscribe(
        world, settings, subscriptions, receiver.url, [EventType.COMMITTEE_CLOSED]
    )
    await committee_closes(world, ["67"])
    # Production rules at delivery time: https, public addresses only.
    strict = settings.model_copy(update={"webhook_allow_loopback": False})
    assert await deliver_once(world.sessionmaker, strict) == 1
    assert receiver.requests == []
    [refused] = await deliveries(world, subscription_id)
    assert refused.status == "pending" and refused.last_status_code is None
    assert refused.last_error is not None and "https" in refused.last_error


async def test_r_hook_1_replay_sends_again_what_followed_an_event(
    world: World, settings: Settings, receiver: Receiver, subscriptions: list[uuid.UUID]
) -> None:
    subscription_id, _ = await subscribe(
        world, settings, subscriptions, receiver.url, [EventType.COMMITTEE_CLOSED]
    )
    await committee_closes(world, ["68", "68", "68"])
    await drain(world, settings)
    first, second, third = receiver.requests
    async with world.sessionmaker() as session, session.begin():
        queued = await webhooks_service.replay(
            session,
            DINUM,
            subscription_id=subscription_id,
            after_event_id=uuid.UUID(first.payload["event_id"]),
        )
    assert queued.queued == 2 and queued.already_pending == 0 and queued.next_after is None
    await drain(world, settings)
    replayed = [r.headers["webhook-id"] for r in receiver.requests[3:]]
    assert replayed == [second.headers["webhook-id"], third.headers["webhook-id"]]


async def test_r_hook_1_two_workers_over_200_events_deliver_each_once_in_order(
    world: World, settings: Settings, receiver: Receiver, subscriptions: list[uuid.UUID]
) -> None:
    if not world.is_postgres:
        pytest.skip("one worker on SQLite; FOR UPDATE SKIP LOCKED is PostgreSQL's")
    events = 200
    first_id, _ = await subscribe(
        world, settings, subscriptions, receiver.url, [EventType.COMMITTEE_CLOSED]
    )
    second_id, _ = await subscribe(
        world, settings, subscriptions, receiver.url + "/2", [EventType.COMMITTEE_CLOSED]
    )
    for _ in range(events // 50):
        await committee_closes(world, ["69"] * 50)

    # One delivery per claim, so that each worker takes one subscription's next row while the
    # other works on the other subscription's.
    one_at_a_time = settings.model_copy(update={"webhook_batch_size": 1})

    async def worker() -> int:
        total = 0
        idle = 0
        while idle < 3:  # the other worker may hold the next row: look again before stopping
            done = await deliver_once(world.sessionmaker, one_at_a_time)
            total += done
            idle = 0 if done else idle + 1
            if not done:
                await asyncio.sleep(0.05)
        return total

    counts = await asyncio.gather(worker(), worker())
    assert sum(counts) == 2 * events
    assert all(counts), counts  # both workers took part
    assert len(receiver.requests) == 2 * events
    for path in ("/hooks", "/hooks/2"):
        seqs = [r.payload["seq"] for r in receiver.requests if r.path == path]
        assert len(seqs) == len(set(seqs)) == events  # each event once
        assert seqs == sorted(seqs)  # in order per subscription
    for subscription_id in (first_id, second_id):
        rows = await deliveries(world, subscription_id)
        assert len(rows) == events
        assert {r.status for r in rows} == {"delivered"}
        assert all(r.attempts == 1 for r in rows)
    async with world.sessionmaker() as session, session.begin():
        leftover = (
            await session.execute(
                select(func.count()).where(
                    col(WebhookDelivery.subscription_id).in_([first_id, second_id]),
                    WebhookDelivery.status != "delivered",
                )
            )
        ).scalar_one()
    assert leftover == 0


def test_role_is_the_subscriber_scope() -> None:
    subscription = WebhookSubscription(
        url="https://example.org",
        owner_subject="prefet-13",
        owner_role="prefect",
        departement="13",
        secret="whsec_AAAA",
    )
    principal = webhooks_service.subscriber(subscription)
    assert (principal.role, principal.departement) == (Role.PREFECT, "13")


async def test_r_hook_1_the_worker_runs_with_the_app_and_stops_with_it(
    world: World, settings: Settings, receiver: Receiver, subscriptions: list[uuid.UUID]
) -> None:
    from app.main import create_app

    await subscribe(world, settings, subscriptions, receiver.url, [EventType.COMMITTEE_CLOSED])
    await committee_closes(world, ["70"])
    app = create_app(
        settings.model_copy(update={"webhook_worker_enabled": True, "webhook_poll_seconds": 0.05})
    )
    async with app.router.lifespan_context(app):
        for _ in range(200):
            if receiver.requests:
                break
            await asyncio.sleep(0.05)
    assert len(receiver.requests) == 1
    assert receiver.requests[0].payload["data"]["object"]["departement"] == "70"


async def test_r_hook_1_a_worker_dying_mid_delivery_leaves_the_row_to_retry(
    world: World, settings: Settings, receiver: Receiver, subscriptions: list[uuid.UUID]
) -> None:
    from app.webhooks.worker import claim

    subscription_id, _ = await subscribe(
        world, settings, subscriptions, receiver.url, [EventType.COMMITTEE_CLOSED]
    )
    await committee_closes(world, ["71"])
    moment = webhooks_service.real_now()
    # A worker claims the row, then dies before sending or settling it.
    claimed = await claim(world.sessionmaker, settings, now=moment, limit=10)
    assert [c.subscription.id for c in claimed] == [subscription_id]
    leased = moment + timedelta(seconds=settings.webhook_lease_seconds)
    assert await drain(world, settings, now=leased - timedelta(seconds=1)) == 0  # still leased
    assert await drain(world, settings, now=leased + timedelta(seconds=1)) == 1
    assert len(receiver.accepted) == 1
    [row] = await deliveries(world, subscription_id)
    assert (row.status, row.attempts) == ("delivered", 2)
