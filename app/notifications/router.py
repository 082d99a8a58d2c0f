"""/notifications and /projects/{id}/notifications (R-NOTIF-1).

The router's lifespan runs the notification worker beside the API (one per process, like the
webhooks'; `notification_worker_enabled`) and adds the outbox's gauges to GET /metrics, so
that create_app only includes this router.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response

from app.auth.dependencies import require_roles
from app.auth.principal import Principal, Role
from app.core import tags
from app.core.config import Settings
from app.core.db import SessionDep
from app.core.errors import problems
from app.notifications import metrics, service
from app.notifications.models import Notification
from app.notifications.render import DEMO, render
from app.notifications.rules import Audience, Kind, mask
from app.notifications.schemas import (
    NotificationList,
    NotificationPreview,
    NotificationRead,
    PrefectureAddressRead,
    PrefectureAddressWrite,
)
from app.notifications.worker import run_worker
from app.reference.departements import DepartementPath


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    service.use_settings(settings)
    if metrics.outbox_gauges not in app.state.metrics_sources:
        app.state.metrics_sources.append(metrics.outbox_gauges)
    stop = asyncio.Event()
    worker = None
    if settings.notification_worker_enabled:
        worker = asyncio.create_task(run_worker(app.state.sessionmaker, settings, stop))
    try:
        yield
    finally:
        stop.set()
        if worker is not None:
            await worker


router = APIRouter(tags=[tags.NOTIFICATIONS], lifespan=lifespan)
StateAgents = Annotated[Principal, Depends(require_roles(Role.DINUM, Role.PREFECT))]


def notification_read(row: Notification) -> NotificationRead:
    return NotificationRead(
        id=row.id or 0,
        kind=Kind(row.kind),
        audience=Audience(row.audience),
        recipient=mask(row.recipient),  # R-NOTIF-1: personal data, masked
        message_id=row.message_id,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


@router.put(
    "/notifications/prefectures/{departement}",
    summary="Définir l'adresse de notification d'une préfecture",
    response_model=PrefectureAddressRead,
    responses={201: {"model": PrefectureAddressRead}, **problems(401, 403, 404, 415, 422)},
)
async def set_prefecture_address(
    departement: DepartementPath,
    data: PrefectureAddressWrite,
    response: Response,
    session: SessionDep,
    principal: StateAgents,
) -> PrefectureAddressRead:
    """Définir (ou remplacer) l'adresse à laquelle la préfecture est notifiée des dépôts de
    son département et de son comité devenu dû (R-NOTIF-1). Le préfet du département ou la
    DINUM ; un autre préfet : 404 (R-ACL-1). Réponse 201 à la création, 200 ensuite. Sans
    adresse, la préfecture n'est pas notifiée."""
    address, created = await service.set_prefecture_address(
        session, principal, departement=departement, email=data.email
    )
    if created:
        response.status_code = 201
    return PrefectureAddressRead.model_validate(address, from_attributes=True)


@router.get(
    "/notifications/prefectures/{departement}",
    summary="Lire l'adresse de notification d'une préfecture",
    response_model=PrefectureAddressRead,
    responses=problems(401, 403, 404),
)
async def read_prefecture_address(
    departement: DepartementPath, session: SessionDep, principal: StateAgents
) -> PrefectureAddressRead:
    """L'adresse de notification de la préfecture (préfet du département ou DINUM ; 404 sans
    adresse ou hors périmètre, R-ACL-1)."""
    address = await service.get_prefecture_address(session, principal, departement=departement)
    return PrefectureAddressRead.model_validate(address, from_attributes=True)


@router.get(
    "/notifications/preview/{kind}",
    summary="Prévisualiser un modèle de courriel",
    response_model=NotificationPreview,
    responses=problems(401, 403, 422),
)
async def preview_notification(
    kind: Kind, request: Request, principal: StateAgents
) -> NotificationPreview:
    """Le courriel `kind` rendu avec des données de démonstration (objet, texte, HTML), pour
    lire ce qui sera envoyé (R-NOTIF-1). Préfet ou DINUM."""
    settings: Settings = request.app.state.settings
    rendered = render(kind, DEMO[kind], settings.frontend_url)
    return NotificationPreview(
        kind=kind, subject=rendered.subject, text=rendered.text, html=rendered.html
    )


@router.get(
    "/projects/{project_id}/notifications",
    summary="Lire les courriels envoyés pour un dossier",
    response_model=NotificationList,
    responses=problems(401, 403, 404),
)
async def list_project_notifications(
    project_id: uuid.UUID, session: SessionDep, principal: StateAgents
) -> NotificationList:
    """Les courriels d'un dossier (R-NOTIF-1) : modèle, destinataire masqué, état, essais,
    dernière erreur. La DINUM, ou le préfet du département du dossier (404 hors périmètre,
    R-ACL-1)."""
    rows = await service.list_for_project(session, principal, project_id=project_id)
    return NotificationList(items=[notification_read(r) for r in rows])
