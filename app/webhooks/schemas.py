"""Webhook API models (R-HOOK-1)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from app.core.pagination import Page
from app.core.schemas import Count, InputModel, ReadModel
from app.webhooks.rules import EventType

Url = str


class SubscriptionCreate(InputModel):
    url: Url = Field(
        min_length=8,
        max_length=2000,
        pattern=r"^https?://[^\s]+$",
        description="Adresse de réception (R-HOOK-1) : https, port 443 (ou un port autorisé par "
        "l'exploitant), hôte dont toutes les adresses sont publiques, formes de transition IPv6 "
        "(NAT64, 6to4, Teredo, IPv4 mappée…) comprises (et dans la liste autorisée si la DINUM "
        "en a fixé une) ; vérifiée aussi à chaque envoi, sur l'adresse même à laquelle le "
        "service se connecte ; http et la boucle locale seulement en développement.",
    )
    event_types: list[EventType] = Field(min_length=1, max_length=5)
    description: str | None = Field(default=None, max_length=300)


class SubscriptionRead(ReadModel):
    id: uuid.UUID
    url: Url = Field(max_length=2000)
    description: str | None = Field(default=None, max_length=300)
    event_types: list[EventType] = Field(max_length=5)
    departement: str | None = Field(
        default=None,
        max_length=3,
        description="Département dont l'abonnement reçoit les événements (préfet) ; absent : "
        "tous (DINUM).",
    )
    status: str = Field(pattern=r"^(active|disabled)$")
    disabled_reason: str | None = Field(default=None, max_length=500)
    disabled_at: datetime | None = None
    previous_secret_until: datetime | None = Field(
        default=None, description="Fin de validité de l'ancien secret après rotation."
    )
    created_at: datetime


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(
        max_length=100,
        pattern=r"^whsec_[A-Za-z0-9+/=]+$",
        description="Secret de signature (Standard Webhooks), montré cette seule fois.",
    )


class SubscriptionList(Page[SubscriptionRead]):
    """Les abonnements de votre périmètre."""


class AttemptRead(ReadModel):
    at: datetime
    status_code: int | None = Field(default=None, ge=100, le=599)
    latency_ms: Count | None = None
    error: str | None = Field(default=None, max_length=500)


class DeliveryRead(ReadModel):
    id: Count
    event_id: uuid.UUID
    event_seq: Count
    event_type: EventType
    status: str = Field(pattern=r"^(pending|delivered|failed)$")
    attempts: Count
    last_status_code: int | None = Field(default=None, ge=100, le=599)
    last_latency_ms: Count | None = None
    last_error: str | None = Field(default=None, max_length=500)
    next_attempt_at: datetime | None = Field(
        default=None, description="Prochain essai (absent une fois livré ou abandonné)."
    )
    delivered_at: datetime | None = None
    attempt_log: list[AttemptRead] = Field(max_length=20)


class DeliveryList(Page[DeliveryRead]):
    """Les envois d'un abonnement, du plus récent au plus ancien."""


class ReplayResult(ReadModel):
    queued: Count = Field(description="Événements remis en file pour cet abonnement.")
    already_pending: Count = Field(
        description=(
            "Événements non remis en file : un envoi du même événement est encore en attente "
            "pour cet abonnement (R-HOOK-1), il le portera."
        )
    )
    next_after: uuid.UUID | None = Field(
        default=None,
        description=(
            "Présent quand le renvoi s'est arrêté à la limite d'événements par appel : "
            "l'`event_id` à passer en `after` pour continuer. Absent quand tout a été renvoyé."
        ),
    )
