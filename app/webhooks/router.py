"""/webhooks: subscriptions, secret rotation, deliveries and replay (R-HOOK-1)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app.auth.dependencies import require_roles
from app.auth.principal import Principal, Role
from app.core import tags
from app.core.db import SessionDep
from app.core.errors import problems
from app.core.filters import UpdatedSince
from app.core.location import set_location
from app.core.pagination import CursorFormat, PageParams, page_params_for
from app.webhooks import service as webhooks_service
from app.webhooks.models import WebhookDelivery, WebhookSubscription
from app.webhooks.schemas import (
    AttemptRead,
    DeliveryList,
    DeliveryRead,
    ReplayResult,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionList,
    SubscriptionRead,
)

router = APIRouter(prefix="/webhooks", tags=[tags.ABONNEMENTS])

SUBSCRIPTIONS_CURSOR = CursorFormat("webhooks")
DELIVERIES_CURSOR = CursorFormat("deliveries", serial=True)
Subscribers = Annotated[Principal, Depends(require_roles(Role.DINUM, Role.PREFECT))]


def subscription_read(subscription: WebhookSubscription) -> SubscriptionRead:
    return SubscriptionRead.model_validate(subscription, from_attributes=True)


def _created(subscription: WebhookSubscription, secret: str) -> SubscriptionCreated:
    return SubscriptionCreated(**subscription_read(subscription).model_dump(), secret=secret)


def delivery_read(delivery: WebhookDelivery) -> DeliveryRead:
    return DeliveryRead(
        id=delivery.id or 0,
        event_id=delivery.event_id,
        event_seq=delivery.event_seq,
        event_type=delivery.event_type,
        status=delivery.status,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_latency_ms=delivery.last_latency_ms,
        last_error=delivery.last_error,
        next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
        delivered_at=delivery.delivered_at,
        attempt_log=[AttemptRead.model_validate(a) for a in delivery.attempt_log],
    )


@router.post(
    "",
    summary="S'abonner aux événements",
    status_code=201,
    response_model=SubscriptionCreated,
    responses=problems(401, 403, 415, 422),
)
async def create_webhook(
    data: SubscriptionCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: Subscribers,
) -> SubscriptionCreated:
    """S'abonner aux événements (R-HOOK-1) : la DINUM reçoit ceux de tous les départements, un
    préfet ceux du sien. Le secret de signature (Standard Webhooks) n'est montré qu'ici."""
    subscription, secret = await webhooks_service.create_subscription(
        session,
        principal,
        data=data,
        settings=request.app.state.settings,
        resolver=request.app.state.webhook_resolver,
    )
    set_location(response, f"/webhooks/{subscription.id}")
    return _created(subscription, secret)


@router.get(
    "",
    summary="Lister les abonnements aux événements",
    response_model=SubscriptionList,
    responses=problems(401, 403),
)
async def list_webhooks(
    session: SessionDep,
    principal: Subscribers,
    page: Annotated[PageParams, Depends(page_params_for(SUBSCRIPTIONS_CURSOR))],
    updated_since: UpdatedSince = None,
) -> SubscriptionList:
    """Les abonnements de votre périmètre (préfet : ceux de son département).

    Règles : R-HOOK-1, R-ACL-1.
    """
    rows, next_cursor = await webhooks_service.list_subscriptions(
        session, principal, page=page, updated_since=updated_since
    )
    return SubscriptionList(items=[subscription_read(s) for s in rows], next_cursor=next_cursor)


@router.get(
    "/{subscription_id}",
    summary="Lire un abonnement",
    response_model=SubscriptionRead,
    responses=problems(401, 403, 404),
)
async def read_webhook(
    subscription_id: uuid.UUID, session: SessionDep, principal: Subscribers
) -> SubscriptionRead:
    """Un abonnement : état, et pourquoi il est désactivé le cas échéant.

    Règles : R-HOOK-1, R-ACL-1.
    """
    return subscription_read(
        await webhooks_service.get_subscription(session, principal, subscription_id=subscription_id)
    )


@router.delete(
    "/{subscription_id}",
    summary="Supprimer un abonnement",
    status_code=204,
    responses=problems(401, 403, 404),
)
async def delete_webhook(
    subscription_id: uuid.UUID, session: SessionDep, principal: Subscribers
) -> Response:
    """Supprimer un abonnement et ses envois en attente.

    Règles : R-HOOK-1, R-ACL-1.
    """
    await webhooks_service.delete_subscription(session, principal, subscription_id=subscription_id)
    return Response(status_code=204)


@router.post(
    "/{subscription_id}/rotate-secret",
    summary="Changer le secret d'un abonnement",
    response_model=SubscriptionCreated,
    responses=problems(401, 403, 404),
)
async def rotate_webhook_secret(
    subscription_id: uuid.UUID, request: Request, session: SessionDep, principal: Subscribers
) -> SubscriptionCreated:
    """Un nouveau secret, montré cette seule fois ; l'ancien signe encore (à côté du nouveau)
    pendant la période de grâce (`previous_secret_until`).

    Règles : R-HOOK-1, R-ACL-1.
    """
    subscription, secret = await webhooks_service.rotate_secret(
        session,
        principal,
        subscription_id=subscription_id,
        settings=request.app.state.settings,
    )
    return _created(subscription, secret)


@router.get(
    "/{subscription_id}/deliveries",
    summary="Lister les envois d'un abonnement",
    response_model=DeliveryList,
    responses=problems(401, 403, 404),
)
async def list_webhook_deliveries(
    subscription_id: uuid.UUID,
    session: SessionDep,
    principal: Subscribers,
    page: Annotated[PageParams, Depends(page_params_for(DELIVERIES_CURSOR))],
) -> DeliveryList:
    """Les envois, du plus récent au plus ancien : essais, codes de réponse, latence,
    prochain essai.

    Règles : R-HOOK-1, R-ACL-1.
    """
    rows, next_cursor = await webhooks_service.list_deliveries(
        session, principal, subscription_id=subscription_id, page=page
    )
    return DeliveryList(items=[delivery_read(d) for d in rows], next_cursor=next_cursor)


@router.post(
    "/{subscription_id}/replay",
    summary="Renvoyer les événements d'un abonnement",
    response_model=ReplayResult,
    responses=problems(401, 403, 404),
)
async def replay_webhook(
    subscription_id: uuid.UUID,
    session: SessionDep,
    principal: Subscribers,
    after: Annotated[
        uuid.UUID,
        Query(description="Identifiant (`event_id`) du dernier événement bien reçu."),
    ],
) -> ReplayResult:
    """Renvoyer, dans l'ordre, les événements de cet abonnement qui suivent celui-ci.

    Au plus 500 événements du journal sont lus par appel : au-delà, le renvoi s'arrête et
    `next_after` donne l'événement après lequel reprendre (rappeler avec `after` égal à
    `next_after` jusqu'à ce qu'il soit absent). Un événement dont l'envoi est encore en
    attente pour cet abonnement n'est pas remis en file une seconde fois (`already_pending`) :
    renvoyer plusieurs fois la même plage ne multiplie pas les envois.

    Règles : R-HOOK-1, R-ACL-1.
    """
    outcome = await webhooks_service.replay(
        session, principal, subscription_id=subscription_id, after_event_id=after
    )
    return ReplayResult(
        queued=outcome.queued,
        already_pending=outcome.already_pending,
        next_after=outcome.next_after,
    )
