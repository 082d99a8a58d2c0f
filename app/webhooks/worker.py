"""The webhook worker: claims due outbox rows, signs and sends them, settles each (R-HOOK-1).

- Claim: one short transaction takes the next due delivery of each active subscription (the
  oldest pending one: deliveries of a subscription go out one at a time, in order), with
  `FOR UPDATE SKIP LOCKED` on PostgreSQL so that several workers never claim the same row
  (SQLite: one writer at a time), and leases it (`webhook_lease_seconds`; `app.core.outbox`).
  A worker that dies mid-delivery leaves the lease to expire: the row is claimed again, never
  lost (at least once); one whose lease was taken over settles nothing.
- Send: the SSRF guard (`app.webhooks.guard`) resolves the host once and refuses non-public
  addresses (loopback only when allowed), then POSTs to a checked address, the host kept as Host
  header and TLS server name (no second resolution: DNS rebinding cannot slip past the check),
  with short timeouts, no redirects, no kept-alive connections, Standard Webhooks headers.
- Settle: 2xx is delivered; anything else is retried after the backoff schedule with jitter
  (`rules.RETRY_DELAYS`, about a day), then the delivery fails and its subscription is
  disabled with the reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from fastapi import Response
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from app.auth.principal import Principal
from app.core import outbox
from app.core.config import Settings
from app.core.errors import AppError
from app.core.types import utcnow
from app.webhooks.guard import Resolver, pinned, system_resolver
from app.webhooks.models import WebhookDelivery, WebhookSubscription
from app.webhooks.rules import (
    is_success,
    next_delay,
    signature_header,
)
from app.webhooks.service import (
    check_target,
    real_now,
    secrets_in_force,
    subscriber,
)

logger = logging.getLogger("app.webhooks")
MAX_LOG = 20
USER_AGENT = "guichet-fitn7-webhooks/1"

Renderer = Callable[[AsyncSession, Principal, WebhookDelivery], Awaitable[Any]]


async def _render_project(
    session: AsyncSession, principal: Principal, delivery: WebhookDelivery
) -> Any:
    from app.programme import cache as programme_cache
    from app.projects import (
        actions as projects_actions,
        reads as projects_reads,
    )
    from app.projects.presenters import to_read

    project = await projects_reads.get_project(
        session, principal, project_id=uuid.UUID(delivery.object_id)
    )
    name, actions = await projects_actions.name_and_actions(session, principal, project)
    # R-EVAL-4 (scores shown to State agents) and allowed_actions follow the subscriber's role
    programme = await programme_cache.code_of(session, project.programme_id)
    return to_read(project, name, principal, actions, programme).model_dump(mode="json")


async def _render_committee(
    session: AsyncSession, principal: Principal, delivery: WebhookDelivery
) -> Any:
    from app.committees import views as committees_views
    from app.committees.router import committee_read

    view = await committees_views.read_committee(
        session, principal, committee_id=uuid.UUID(delivery.object_id)
    )
    return committee_read(view, Response()).model_dump(mode="json")


async def _render_grant(
    session: AsyncSession, principal: Principal, delivery: WebhookDelivery
) -> Any:
    from app.budgets.grants_router import grant_read
    from app.budgets.schemas import GrantRead

    after = (delivery.summary or {}).get("after") or {}
    project_id = uuid.UUID(str(after["project_id"]))
    fields = await grant_read(session, principal, project_id, Response())
    return GrantRead.model_validate(fields).model_dump(mode="json")


# The object as the API reads it to the subscriber, by audit object type (a type without a
# renderer carries the audit summary).
RENDERERS: dict[str, Renderer] = {
    "committee": _render_committee,
    "project": _render_project,
    "grant": _render_grant,
    "payment": _render_grant,
}


@dataclass(frozen=True)
class Claim:
    delivery: WebhookDelivery
    subscription: WebhookSubscription
    token: uuid.UUID


# R-HOOK-1: the outbox is claimed and settled under a lease (`app.core.outbox`).
DELIVERIES = outbox.LeasedTable(WebhookDelivery)


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    now: datetime,
    limit: int,
) -> list[Claim]:
    """Lease the next due delivery of up to `limit` active subscriptions."""
    stmt = (
        select(WebhookDelivery, WebhookSubscription)
        .join(WebhookSubscription, col(WebhookSubscription.id) == WebhookDelivery.subscription_id)
        .where(
            WebhookSubscription.status == "active",
            DELIVERIES.oldest_pending_per("subscription_id"),
        )
        .order_by(col(WebhookDelivery.id))
    )
    leased = await outbox.claim_due(
        sessionmaker,
        DELIVERIES,
        stmt,
        now=now,
        limit=limit,
        lease_seconds=settings.webhook_lease_seconds,
    )
    return [Claim(delivery, subscription, token) for (delivery, subscription), token in leased]


def message_id(delivery: WebhookDelivery) -> str:
    """`webhook-id`: stable across retries and replays of one event of one type."""
    return str(uuid.uuid5(delivery.event_id, delivery.event_type))


async def render(sessionmaker: async_sessionmaker[AsyncSession], item: Claim) -> dict[str, Any]:
    """The JSON body: the event and the object as the API reads it to the subscriber."""
    delivery = item.delivery
    data: Any = {
        "object": {
            "type": delivery.object_type,
            "id": delivery.object_id,
            "departement": delivery.departement,
        },
        **(delivery.summary or {}),
    }
    renderer = RENDERERS.get(delivery.object_type)
    if renderer is not None:
        try:
            async with sessionmaker() as session, session.begin():
                data = await renderer(session, subscriber(item.subscription), delivery)
        except AppError as exc:  # gone, or no longer in the subscriber's scope
            logger.info("webhook %s: object not readable (%s)", delivery.id, exc.status)
            data = None
    return {
        "id": message_id(delivery),
        "event_id": str(delivery.event_id),
        "seq": delivery.event_seq,
        "type": delivery.event_type,
        "timestamp": delivery.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": data,
    }


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and is_success(self.status_code)


async def send(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    item: Claim,
    resolver: Resolver = system_resolver,
) -> Outcome:
    target = await check_target(item.subscription.url, settings, resolver)  # again: DNS changes
    if isinstance(target, str):
        return Outcome(None, None, target[:500])
    payload = await render(sessionmaker, item)
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    msg_id = payload["id"]
    now = real_now()
    timestamp = int(now.timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            secrets_in_force(item.subscription, now), msg_id, timestamp, body
        ),
    }
    started = time.perf_counter()
    for index, address in enumerate(target.addresses):
        # R-HOOK-1: connect to this checked address, never to what a new resolution answers.
        url, host, extensions = pinned(target, address)
        try:
            response = await client.post(
                url, content=body, headers={**headers, **host}, extensions=extensions
            )
            break
        except httpx.HTTPError as exc:
            connect = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            if connect and index + 1 < len(target.addresses):
                continue  # nothing was sent: try the next checked address
            latency = int((time.perf_counter() - started) * 1000)
            return Outcome(None, latency, f"{type(exc).__name__} ({address}): {exc}"[:500])
    latency = int((time.perf_counter() - started) * 1000)
    error = None if is_success(response.status_code) else f"HTTP {response.status_code}"
    return Outcome(response.status_code, latency, error)


async def settle(
    sessionmaker: async_sessionmaker[AsyncSession], item: Claim, outcome: Outcome, now: datetime
) -> None:
    """Record the attempt; retry later, or give up and disable the subscription."""
    delivery = item.delivery
    log = [
        *delivery.attempt_log,
        {
            "at": now.isoformat(),
            "status_code": outcome.status_code,
            "latency_ms": outcome.latency_ms,
            "error": outcome.error,
        },
    ][-MAX_LOG:]
    values: dict[str, Any] = {
        "attempt_log": log,
        "last_status_code": outcome.status_code,
        "last_latency_ms": outcome.latency_ms,
        "last_error": outcome.error,
    }
    give_up = False
    if outcome.delivered:
        values.update(status="delivered", delivered_at=now)
    else:
        delay = next_delay(delivery.attempts)
        give_up = delay is None
        values.update(DELIVERIES.retry_later(now, delay))
    async with sessionmaker() as session, session.begin():
        if not await outbox.settle(session, DELIVERIES, delivery.id, item.token, values):
            return  # our lease expired and another worker took the row over
        if give_up:
            await session.execute(
                update(WebhookSubscription)
                .where(col(WebhookSubscription.id) == item.subscription.id)
                .values(
                    status="disabled",
                    disabled_at=now,
                    disabled_reason=(
                        f"Désactivé après {delivery.attempts} essais en échec sur environ un "
                        f"jour ; dernier : {outcome.error or 'erreur'}"
                    )[:500],
                    updated_at=utcnow(),  # R-SYNC-1 compares with the business clock
                )
                .execution_options(synchronize_session=False)
            )


def make_client(settings: Settings) -> httpx.AsyncClient:
    timeout = settings.webhook_timeout_seconds
    # No kept-alive connections: a request goes to a checked address with its host as TLS
    # server name, and a pool keyed by address could reuse one host's TLS session for another
    # host served at the same address.
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


async def deliver_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    client: httpx.AsyncClient | None = None,
    now: datetime | None = None,
    resolver: Resolver = system_resolver,
) -> int:
    """One round: claim what is due, send it (subscriptions in parallel), settle. Returns how
    many deliveries were attempted. `now` lets tests jump over the backoff; `resolver`, the
    SSRF guard's name resolution."""
    moment = now or real_now()
    claims = await claim(sessionmaker, settings, now=moment, limit=settings.webhook_batch_size)
    if not claims:
        return 0
    owned = client is None
    http = client or make_client(settings)
    try:

        async def one(item: Claim) -> None:
            outcome = await send(http, sessionmaker, settings, item, resolver)
            await settle(sessionmaker, item, outcome, now or real_now())

        await asyncio.gather(*(one(item) for item in claims))
    finally:
        if owned:
            await http.aclose()
    return len(claims)


async def run_worker(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    stop: asyncio.Event,
) -> None:
    """Deliver until `stop` is set; errors are logged and the loop goes on."""
    async with make_client(settings) as client:
        await outbox.run_rounds(
            lambda: deliver_once(sessionmaker, settings, client=client),
            stop,
            poll_seconds=settings.webhook_poll_seconds,
            name="webhook",
            log=logger,
        )
