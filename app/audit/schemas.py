"""Audit trail API models (R-AUDIT-1)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

from app.core.pagination import Page
from app.core.schemas import Count, ReadModel

Hash = str
# The fields an event summarises depend on the object's type: a free JSON value in the contract
# (an object of the changed fields, or null), not a closed object. What it holds is exactly
# what the hash covers, so an auditor can recompute it.
FieldSummary = Annotated[
    Any,
    WithJsonSchema(
        {
            "description": "Objet JSON { champ: valeur } des seuls champs modifiés (entiers et "
            "textes, jamais de nombre flottant) ; null à la création (before) ou à la "
            "suppression (after)."
        }
    ),
]


class AuditActor(ReadModel):
    subject: str = Field(max_length=255, description="Identifiant (`sub`) de l'auteur.")
    role: str = Field(max_length=20)
    scope: str | None = Field(
        default=None,
        max_length=20,
        description="Périmètre du rôle : département du préfet, SIREN du candidat ; "
        "absent pour un rôle national.",
    )


class AuditObject(ReadModel):
    type: str = Field(max_length=40, description="project, candidate, envelope, grant, …")
    id: str = Field(max_length=64)
    departement: str | None = Field(
        default=None, max_length=3, description="Absent pour un objet national (programme)."
    )


class AuditEventRead(ReadModel):
    seq: Count = Field(
        ge=1,
        description="Numéro de séquence : sans trou, dans l'ordre des validations "
        "(COMMIT) des transactions.",
    )
    id: uuid.UUID
    at: datetime = Field(description="Instant du changement (UTC).")
    actor: AuditActor
    object: AuditObject
    action: str = Field(max_length=60)
    before: FieldSummary = Field(
        default=None, description="Valeurs avant le changement des seuls champs modifiés."
    )
    after: FieldSummary = Field(
        default=None, description="Valeurs après le changement des seuls champs modifiés."
    )
    prev_hash: Hash = Field(pattern=r"^[0-9a-f]{64}$")
    key_id: str = Field(
        max_length=40,
        description="Identifiant de la clé HMAC (paramètre GUICHET_AUDIT_KEYS, hors de la base) "
        "qui a scellé l'événement.",
    )
    hash: Hash = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="HMAC-SHA256, sous la clé `key_id`, de la sérialisation canonique de tous "
        "les champs de l'événement (JSON, clés triées, sans espace, UTF-8, sans nombre "
        "flottant) : `seq`, `id`, `key_id`, `at`, `actor`, `object`, `action`, `before`, "
        "`after`, `prev_hash`.",
    )


class AuditEventPage(Page[AuditEventRead]):
    """Une page d'événements, par séquence croissante, et le curseur suivant."""


class CheckpointClaimsRead(ReadModel):
    """Ce qu'atteste un point de contrôle signé : la tête de chaîne à un instant."""

    head_seq: Count = Field(description="Séquence de la tête de chaîne attestée.")
    head_hash: Hash = Field(pattern=r"^[0-9a-f]{64}$", description="Son hachage.")
    key_id: str = Field(max_length=40, description="Clé HMAC qui a scellé cet événement.")
    at: datetime = Field(description="Instant de la signature (UTC).")


class CheckpointRead(CheckpointClaimsRead):
    """Un point de contrôle publié (R-AUDIT-1) : ce qu'il atteste et le JWS à conserver."""

    jws: str = Field(
        max_length=4096,
        description="Le point de contrôle : JWS compact (en-tête `typ` = "
        "`audit-checkpoint+jwt`) signé par la clé du service publiée dans "
        "/.well-known/jwks.json (ES256 ou RS256). À conserver par l'auditeur, avec la JWKS.",
    )
    anchored: bool = Field(
        description="Vrai si signé par la clé asymétrique du service (vérifiable par tous avec "
        "la JWKS) ; faux en développement, signé HS256 par le secret : pas une ancre externe."
    )


class ChainBreakRead(ReadModel):
    seq: Count = Field(description="Séquence de l'événement où la chaîne rompt.")
    field: str = Field(
        pattern=r"^(seq|prev_hash|hash|key_id|head|checkpoint)$",
        description="`seq` : événement manquant ou inséré ; `prev_hash` : lien rompu ; "
        "`hash` : contenu modifié ou scellé sans la clé ; `key_id` : clé inconnue des "
        "paramètres ; `head` : événements retirés en fin de chaîne, ou ligne au-delà de la "
        "tête ; `checkpoint` : la chaîne n'a plus le hachage attesté par le point de contrôle "
        "signé fourni.",
    )
    expected: str = Field(max_length=200)
    found: str = Field(max_length=200)
    message: str = Field(max_length=300)


class ChainVerification(ReadModel):
    valid: bool
    verified_up_to: Count = Field(
        description="Dernière séquence dont la chaîne tient (0 : aucune)."
    )
    events_checked: Count
    head_seq: Count = Field(description="Séquence annoncée par la tête de chaîne.")
    broken: ChainBreakRead | None = Field(
        default=None, description="Premier lien rompu ; absent si la chaîne tient."
    )
    checkpoint: CheckpointClaimsRead | None = Field(
        default=None,
        description="Le point de contrôle fourni (`checkpoint=`), dont la signature est "
        "valide ; la chaîne le contient encore si `valid` est vrai.",
    )
