"""Webhook subscriptions, the outbox fed by the audit trail, deliveries and replay (R-HOOK-1).

The outbox is written by `_fan_out`, registered on the audit trail's append
(`app.audit.service.on_append`; the subscriptions it matches are read before the chain head's
lock, by `_read_subscriptions`, issue 28): an audit event of a subscribed type becomes one
delivery row per matching subscription, in the same transaction as the change (a rolled-back
change sends nothing) and in the chain's order. `app.webhooks.worker` delivers them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    ColumnElement,
    func,
    insert,
    select as sa_select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col, select

from app.audit import service as audit_service
from app.audit.models import AuditEvent
from app.auth.principal import Principal, Role
from app.core.config import Settings
from app.core.db import transaction_info
from app.core.pagination import PageParams, keyset_page, split_page
from app.core.types import utcnow
from app.projects import hooks as project_hooks
from app.webhooks.errors import EventNotFound, SubscriptionNotFound, TargetRefused
from app.webhooks.guard import Resolver, Target, TargetPolicy, resolve, system_resolver
from app.webhooks.models import WebhookDelivery, WebhookSubscription
from app.webhooks.rules import (
    event_types_of,
    new_secret,
    reaches,
)
from app.webhooks.schemas import SubscriptionCreate

# R-HOOK-1: a replay reads at most this many events of the audit chain per call; beyond, it
# stops there and says where to continue (`ReplayOutcome.next_after`).
REPLAY_MAX = 500


def real_now() -> datetime:
    """Delivery times are real time (receivers check timestamps against their own clock), not
    the business clock of a demonstration."""
    return datetime.now(UTC)


def policy_of(settings: Settings) -> TargetPolicy:
    return TargetPolicy(
        allow_loopback=settings.webhook_allow_loopback,
        allowed_hosts=tuple(settings.webhook_allowed_hosts),
        allowed_ports=tuple(settings.webhook_allowed_ports),
    )


def subscriber(subscription: WebhookSubscription) -> Principal:
    """Whom the API reads objects as, for this subscription's payloads: its owner's scope."""
    if subscription.departement is not None:
        return Principal(
            subscription.owner_subject, Role.PREFECT, departement=subscription.departement
        )
    return Principal(subscription.owner_subject, Role.DINUM)


async def check_target(
    url: str, settings: Settings, resolver: Resolver = system_resolver
) -> Target | str:
    """The SSRF guard (R-HOOK-1), at registration and at each delivery: the target resolved
    once with every address checked, or why it is refused. A delivery connects to one of the
    checked addresses (`guard.pinned`): the name is not resolved again after the check."""
    return await resolve(url, policy_of(settings), resolver)


# -- subscriptions --------------------------------------------------------------------------


async def create_subscription(
    session: AsyncSession,
    principal: Principal,
    *,
    data: SubscriptionCreate,
    settings: Settings,
    resolver: Resolver = system_resolver,
) -> tuple[WebhookSubscription, str]:
    """DINUM subscribes to every département's events, a prefect to its own (R-HOOK-1).
    Returns the subscription and its secret, shown once. The URL is checked now and again at
    each delivery (its address may change)."""
    checked = await check_target(data.url, settings, resolver)
    if isinstance(checked, str):
        raise TargetRefused.because(checked)
    secret = new_secret()
    subscription = WebhookSubscription(
        url=data.url,
        description=data.description,
        event_types=sorted({t.value for t in data.event_types}),
        departement=principal.departement if principal.role is Role.PREFECT else None,
        owner_subject=principal.subject,
        owner_role=principal.role.value,
        secret=secret,
    )
    session.add(subscription)
    await session.flush()
    await _audit(
        session, principal, subscription, "created", before=None, after=_audit_view(subscription)
    )
    return subscription, secret


def _audit_view(subscription: WebhookSubscription) -> dict[str, Any]:
    return audit_service.snapshot(subscription, ("url", "event_types", "status"))


async def _audit(
    session: AsyncSession,
    principal: Principal,
    subscription: WebhookSubscription,
    action: str,
    *,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """R-AUDIT-1: subscriptions are audited too (never their secrets)."""
    await audit_service.record(
        session,
        principal,
        object_type="webhook",
        object_id=subscription.id,
        departement=subscription.departement,
        action=action,
        before=before,
        after=after,
    )


def _visible(principal: Principal) -> Any:
    stmt = select(WebhookSubscription)
    if principal.role is Role.PREFECT:
        stmt = stmt.where(WebhookSubscription.departement == principal.departement)
    return stmt


async def get_subscription(
    session: AsyncSession, principal: Principal, *, subscription_id: uuid.UUID
) -> WebhookSubscription:
    """A subscription in scope (a prefect: its département's), else 404 (R-ACL-1)."""
    found = (
        await session.execute(_visible(principal).where(WebhookSubscription.id == subscription_id))
    ).scalar_one_or_none()
    if found is None:
        raise SubscriptionNotFound()
    return found  # type: ignore[no-any-return]


async def list_subscriptions(
    session: AsyncSession,
    principal: Principal,
    *,
    page: PageParams,
    updated_since: datetime | None = None,
) -> tuple[list[WebhookSubscription], str | None]:
    stmt = _visible(principal)
    if updated_since is not None:  # R-SYNC-1
        stmt = stmt.where(col(WebhookSubscription.updated_at) >= updated_since)
    stmt = keyset_page(stmt, WebhookSubscription.created_at, WebhookSubscription.id, page)
    rows = list((await session.execute(stmt)).scalars().all())
    return split_page(rows, page, lambda s: (s.created_at, s.id))


async def delete_subscription(
    session: AsyncSession, principal: Principal, *, subscription_id: uuid.UUID
) -> None:
    subscription = await get_subscription(session, principal, subscription_id=subscription_id)
    await _audit(
        session, principal, subscription, "deleted", before=_audit_view(subscription), after=None
    )
    await session.delete(subscription)  # its pending deliveries go with it (ON DELETE CASCADE)
    await session.flush()


async def rotate_secret(
    session: AsyncSession,
    principal: Principal,
    *,
    subscription_id: uuid.UUID,
    settings: Settings,
) -> tuple[WebhookSubscription, str]:
    """A new secret, shown once; the old one still signs (beside it) during the grace period."""
    subscription = await get_subscription(session, principal, subscription_id=subscription_id)
    grace_before = subscription.previous_secret_until
    secret = new_secret()
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_until = real_now() + timedelta(
        hours=settings.webhook_secret_grace_hours
    )
    subscription.secret = secret
    subscription.updated_at = utcnow()  # R-SYNC-1 compares with the business clock
    await session.flush()
    await _audit(
        session,
        principal,
        subscription,
        "secret_rotated",
        before={"previous_secret_until": grace_before},
        after={"previous_secret_until": subscription.previous_secret_until},
    )
    return subscription, secret


def secrets_in_force(subscription: WebhookSubscription, now: datetime) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous one during its
    grace period."""
    found = [subscription.secret]
    until = subscription.previous_secret_until
    if subscription.previous_secret and until is not None and now < until:
        found.append(subscription.previous_secret)
    return found


# -- the outbox -----------------------------------------------------------------------------


def _delivery_rows(
    subscriptions: Sequence[Any], events: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    rows = []
    for event in events:
        types = event_types_of(event["object_type"], event["action"], event["after"])
        for event_type in types:
            for subscription in subscriptions:
                if event_type.value not in subscription.event_types:
                    continue
                if not reaches(subscription.departement, event["departement"]):
                    continue  # R-HOOK-1: a prefect's subscription, another département
                rows.append(
                    {
                        "subscription_id": subscription.id,
                        "event_id": event["id"],
                        "event_seq": event["seq"],
                        "event_type": event_type.value,
                        "object_type": event["object_type"],
                        "object_id": event["object_id"],
                        "departement": event["departement"],
                        "occurred_at": event["at"],
                        "summary": {
                            "action": event["action"],
                            "before": event["before"],
                            "after": event["after"],
                        },
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "attempt_log": [],
                        "created_at": now,
                    }
                )
    return rows


_SUBSCRIPTIONS = WebhookSubscription.__table__  # type: ignore[attr-defined]
# Issue 28: what the fan-out reads of the active subscriptions (`_delivery_rows`), built once
# and run on the session's connection (plain rows, no ORM object per subscription).
_ACTIVE = sa_select(
    _SUBSCRIPTIONS.c.id, _SUBSCRIPTIONS.c.event_types, _SUBSCRIPTIONS.c.departement
).where(_SUBSCRIPTIONS.c.status == "active")


# transaction_info: the active subscriptions, read before the chain head's lock for `_fan_out`
# (or with the dossier a write read: `_keep_written`)
_SUBSCRIBED = "webhooks.subscribed"
SUBSCRIPTIONS = "webhook_subscriptions"


class _Subscription(NamedTuple):
    """What the fan-out reads of an active subscription (a row of `_ACTIVE`)."""

    id: uuid.UUID
    event_types: list[str]
    departement: str | None


def _subscriptions_column(dialect: str) -> ColumnElement[Any]:
    """The active subscriptions as one JSON array of `_Subscription`s' fields, to select beside
    a dossier's row (`WrittenFacts`; NULL on PostgreSQL when there is none)."""
    fields = (_SUBSCRIPTIONS.c.id, _SUBSCRIPTIONS.c.event_types, _SUBSCRIPTIONS.c.departement)
    if dialect == "postgresql":
        aggregate = func.json_agg(func.json_build_array(*fields))
    else:
        identifier, types, departement = fields
        aggregate = func.json_group_array(
            func.json_array(identifier, func.json(types), departement)
        )
    found = sa_select(aggregate).where(_SUBSCRIPTIONS.c.status == "active")
    return type_coerce(found.scalar_subquery(), JSON)


@project_hooks.on_written(SUBSCRIPTIONS, _subscriptions_column)
def _keep_written(session: AsyncSession, _project: Any, value: Any) -> None:
    """R-HOOK-1: the active subscriptions read with the dossier a write read, for `_fan_out`
    at its commit (issue 28: a submission's events need no statement of their own). Read at
    the write's start rather than just before the chain head's lock: either way a subscription
    made meanwhile meets the events appended after its own commit."""
    transaction_info(session)[_SUBSCRIBED] = [
        _Subscription(uuid.UUID(str(i)), list(types or ()), departement)
        for i, types, departement in value or ()
    ]


@audit_service.before_append
def _read_subscriptions(session: Session, events: list[dict[str, Any]]) -> None:
    """R-HOOK-1: the active subscriptions, when an event is of a subscribed type, read before
    the chain head's lock is taken (issue 28: one statement less held under it) for
    `_fan_out`, which runs after the append in the same `before_commit`; unless the write read
    them with its dossier (`_keep_written`)."""
    kept = transaction_info(session)
    if _SUBSCRIBED in kept:
        return
    wanted = any(event_types_of(e["object_type"], e["action"], e["after"]) for e in events)
    kept[_SUBSCRIBED] = session.connection().execute(_ACTIVE).all() if wanted else None


@audit_service.on_append
def _fan_out(session: Session, events: list[dict[str, Any]]) -> None:
    """R-HOOK-1: the outbox rows of these audit events, in their transaction (each delivery
    names its event's place in the chain, `seq`: written after the append)."""
    subscriptions = transaction_info(session).pop(_SUBSCRIBED, None)
    if not subscriptions:
        return
    rows = _delivery_rows(subscriptions, events, real_now())
    if rows:
        session.execute(insert(WebhookDelivery), rows)


async def list_deliveries(
    session: AsyncSession, principal: Principal, *, subscription_id: uuid.UUID, page: PageParams
) -> tuple[list[WebhookDelivery], str | None]:
    """A subscription's deliveries, newest first (attempts, status codes, latency, next try)."""
    await get_subscription(session, principal, subscription_id=subscription_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    before = page.after_serial()
    if before is not None:
        stmt = stmt.where(col(WebhookDelivery.id) < before)
    stmt = stmt.order_by(col(WebhookDelivery.id).desc()).limit(page.limit + 1)
    rows = list((await session.execute(stmt)).scalars().all())
    if len(rows) <= page.limit:
        return rows, None
    kept = rows[: page.limit]
    return kept, page.serial_cursor(kept[-1].id or 0)


@dataclass(frozen=True)
class ReplayOutcome:
    queued: int  # deliveries queued again
    already_pending: int  # deliveries not queued: the same event still pending (R-HOOK-1)
    next_after: uuid.UUID | None  # where to continue: more than REPLAY_MAX events followed


async def replay(
    session: AsyncSession,
    principal: Principal,
    *,
    subscription_id: uuid.UUID,
    after_event_id: uuid.UUID,
) -> ReplayOutcome:
    """Queue again, for this subscription, every event of its types and scope that follows
    the given event in the audit chain (the receiver missed something), at most REPLAY_MAX
    events of the chain per call. R-HOOK-1: an event already pending for the subscription is
    not queued twice (its pending delivery will carry it)."""
    subscription = await get_subscription(session, principal, subscription_id=subscription_id)
    # One replay at a time per subscription (PostgreSQL; SQLite serialises writers), so that
    # two concurrent replays cannot both find an event not pending and both queue it.
    await session.execute(
        select(WebhookSubscription.id)
        .where(WebhookSubscription.id == subscription.id)
        .with_for_update()
    )
    after_seq = (
        await session.execute(select(AuditEvent.seq).where(AuditEvent.id == after_event_id))
    ).scalar_one_or_none()
    if after_seq is None:
        raise EventNotFound()
    stmt = (
        select(AuditEvent)
        .where(
            col(AuditEvent.seq) > after_seq,
            audit_service.up_to_head(),  # R-AUDIT-1: a row past the head is never replayed
            col(AuditEvent.object_type).in_(["project", "grant", "payment", "committee"]),
        )
        .order_by(col(AuditEvent.seq))
        .limit(REPLAY_MAX + 1)
    )
    if subscription.departement is not None:
        stmt = stmt.where(AuditEvent.departement == subscription.departement)
    read = list((await session.execute(stmt)).scalars())
    next_after = read[REPLAY_MAX - 1].id if len(read) > REPLAY_MAX else None
    events = [
        {
            "id": e.id,
            "seq": e.seq,
            "at": e.at,
            "object_type": e.object_type,
            "object_id": e.object_id,
            "departement": e.departement,
            "action": e.action,
            "before": e.before,
            "after": e.after,
        }
        for e in read[:REPLAY_MAX]
    ]
    if not events:
        return ReplayOutcome(queued=0, already_pending=0, next_after=None)
    pending_rows = await session.execute(
        select(WebhookDelivery.event_id, WebhookDelivery.event_type).where(
            WebhookDelivery.subscription_id == subscription.id,
            WebhookDelivery.status == "pending",
            col(WebhookDelivery.event_seq) > after_seq,
            col(WebhookDelivery.event_seq) <= events[-1]["seq"],
        )
    )
    pending = {(event_id, event_type) for event_id, event_type in pending_rows}
    candidates = _delivery_rows([subscription], events, real_now())
    rows = [r for r in candidates if (r["event_id"], r["event_type"]) not in pending]
    if rows:
        await session.execute(insert(WebhookDelivery), rows)
    return ReplayOutcome(
        queued=len(rows), already_pending=len(candidates) - len(rows), next_after=next_after
    )
