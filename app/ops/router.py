"""GET /healthz, GET /readyz, GET /metrics."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.metrics_core import Metric
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import tags
from app.core.config import Settings
from app.core.db import SessionDep
from app.core.errors import Forbidden, NotFound, ServiceUnavailable, Unauthenticated, problems
from app.core.migrations import head_revisions
from app.core.observability import exposition
from app.documents import scanner as documents_scanner

router = APIRouter(tags=[tags.EXPLOITATION])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    database: Literal["ok"]
    revision: str = Field(max_length=64, description="Révision Alembic de la base.")
    scanner: Literal["ok", "down", "none"] = Field(
        description="Antivirus des documents (clamd, R-DOC-2) : `ok` il répond, `down` il ne "
        "répond pas (les documents restent en attente d'analyse, réessayés), `none` aucun "
        "n'est configuré (hors production)."
    )


@router.get("/healthz", summary="Vérifier que le service répond", response_model=Health)
async def read_health() -> Health:
    """Le processus répond (sans toucher la base)."""
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Vérifier que le service est prêt",
    response_model=Readiness,
    responses=problems(503),
)
async def read_readiness(request: Request, session: SessionDep) -> Readiness:
    """La base répond et ses migrations sont à la dernière révision ; 503 sinon. Dit aussi
    si l'antivirus des documents répond (sans en faire dépendre la disponibilité de l'API)."""
    try:
        rows = (await session.execute(text("SELECT version_num FROM alembic_version"))).all()
    except SQLAlchemyError as exc:
        raise ServiceUnavailable("Base de données injoignable ou non migrée.") from exc
    current = {r[0] for r in rows}
    if current != head_revisions():
        raise ServiceUnavailable(
            "La base n'est pas à la dernière migration : lancez `alembic upgrade head`.",
            code="migrations-pending",
        )
    scanner_url = request.app.state.settings.documents_scanner_url
    scanner: Literal["ok", "down", "none"] = "none"
    if scanner_url is not None:
        scanner = "ok" if await documents_scanner.ping(scanner_url) else "down"
    return Readiness(
        status="ready", database="ok", revision=",".join(sorted(current)), scanner=scanner
    )


# -- GET /metrics -----------------------------------------------------------------------------

MetricsSource = Callable[[AsyncSession], Awaitable[list[Metric]]]


class _Figures:
    """A collector of metric families already computed (for one scrape's registry)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return iter(self.families)


async def metrics_access(request: Request) -> None:
    """Production: a bearer token equal to GUICHET_METRICS_TOKEN, or a peer inside
    GUICHET_METRICS_ALLOWED_NETWORKS; off (404) when neither is set. Elsewhere: open unless
    one of them is set. A route dependency: checked before the session (and its clock)."""
    settings: Settings = request.app.state.settings
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    networks = [
        ipaddress.ip_network(entry.strip(), strict=False)
        for entry in settings.metrics_allowed_networks.split(",")
        if entry.strip()
    ]
    if token is None and not networks:
        if settings.environment == "production":
            raise NotFound("Ressource introuvable.")
        return
    if networks and request.client is not None:
        try:
            peer = ipaddress.ip_address(request.client.host)
        except ValueError:
            peer = None
        if peer is not None and any(peer in network for network in networks):
            return
    if token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token):
            return
        raise Unauthenticated("Jeton de collecte des métriques absent ou invalide.")
    raise Forbidden(
        "Les métriques ne sont servies qu'aux réseaux autorisés.", code="metrics-network"
    )


@router.get(
    "/metrics",
    summary="Lire les métriques Prometheus",
    response_class=PlainTextResponse,
    dependencies=[Depends(metrics_access)],
    responses={
        200: {
            "description": "Métriques au format texte de Prometheus.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **problems(401, 403, 404),
    },
)
async def read_metrics(request: Request, session: SessionDep) -> Response:
    """Métriques Prometheus (requêtes, latences, pool, limites de débit, montants engagés et
    payés par département). En production : jeton de collecte ou réseau autorisé."""
    sources: list[MetricsSource] = getattr(request.app.state, "metrics_sources", [])
    registry = CollectorRegistry(auto_describe=False)
    families = [family for source in sources for family in await source(session)]
    registry.register(_Figures(families))
    return Response(exposition(registry), media_type=CONTENT_TYPE_LATEST)
