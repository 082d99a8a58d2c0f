"""API shapes of notifications (R-NOTIF-1)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from app.core.emails import EmailAddress
from app.core.schemas import Count, InputModel, ReadModel
from app.notifications.rules import Audience, Kind


class PrefectureAddressWrite(InputModel):
    """L'adresse à laquelle la préfecture du département est notifiée (R-NOTIF-1)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "dossiers-fitn7@bouches-du-rhone.gouv.fr"}]}
    )

    email: EmailAddress


class PrefectureAddressRead(ReadModel):
    """Adresse de notification d'une préfecture : donnée personnelle, lue seulement par le préfet
    du département et la DINUM."""

    departement: str = Field(max_length=3, description="Code du département.")
    email: str = Field(max_length=254, description="Adresse notifiée.")
    updated_at: datetime = Field(description="Dernière modification.")


class NotificationRead(ReadModel):
    """Un courriel de la file d'envoi (R-NOTIF-1), destinataire masqué."""

    id: Count = Field(description="Numéro dans la file d'envoi.")
    kind: Kind = Field(description="Modèle de message (accusé de dépôt, décision, versement…).")
    audience: Audience = Field(description="`candidate` (contact du candidat) ou `prefecture`.")
    recipient: str = Field(
        max_length=254, description="Adresse masquée (m***@mairie-x.fr).", examples=["m***@x.fr"]
    )
    message_id: str = Field(max_length=300, description="Message-ID, stable d'un essai à l'autre.")
    status: Literal["pending", "sent", "failed"] = Field(
        description="`pending` (en attente ou réessai), `sent`, `failed` (abandonné)."
    )
    attempts: Count = Field(description="Essais d'envoi faits.")
    last_error: str | None = Field(max_length=500, description="Dernière erreur du relais.")
    created_at: datetime = Field(description="Mise en file, dans la transaction du changement.")
    sent_at: datetime | None = Field(description="Envoi accepté par le relais (null : pas encore).")


class NotificationList(ReadModel):
    """Les courriels d'un dossier, du plus ancien au plus récent."""

    items: list[NotificationRead] = Field(description="Les courriels, du plus ancien.")


class NotificationPreview(ReadModel):
    """Un modèle rendu avec des données de démonstration."""

    kind: Kind = Field(description="Le modèle rendu.")
    subject: str = Field(max_length=998, description="Objet du courriel.")
    text: str = Field(max_length=100_000, description="Partie texte brut.")
    html: str = Field(max_length=200_000, description="Partie HTML (échappée).")
