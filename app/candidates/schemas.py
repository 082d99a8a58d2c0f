"""API shapes of candidates."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictBool

from app.candidates.rules import Verification
from app.core.emails import EmailAddress
from app.core.pagination import Page
from app.core.schemas import Count, InputModel, JsonInt, ReadModel, Version, not_blank
from app.reference.kinds import OrganisationKind

Siret = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{14}$",
        description="SIRET du siège (14 chiffres).",
        examples=["21130055300016"],
    ),
]
DepartementCode = Annotated[
    str,
    Field(
        pattern=r"^(0[1-9]|[1-8][0-9]|9[0-5]|2[AB]|97[1-8]|98[0-9])$",
        description="Code COG du département (ex. 13, 2A, 974).",
    ),
]
# A declared name (kinds the reference does not know): never blank once trimmed.
OrganisationName = Annotated[str, Field(min_length=1, max_length=300), not_blank()]
RegionCode = Annotated[str, Field(pattern=r"^[0-9]{2}$", description="Code COG de la région.")]
Phone = Annotated[str, Field(max_length=30, pattern=r"^\+?[0-9 .()-]{6,30}$")]


ContactText = Annotated[str, Field(min_length=1, max_length=200), not_blank()]


class Contact(InputModel):
    """Le contact du candidat : la personne notifiée par courriel (R-NOTIF-1). Facultatif à
    l'enregistrement ; sans adresse, aucun courriel n'est envoyé au candidat."""

    name: ContactText | None = Field(default=None, description="Nom et prénom.")
    role: ContactText | None = Field(default=None, description="Fonction (ex. DGS, DSI).")
    email: EmailAddress | None = Field(
        default=None, description="Adresse notifiée (accusés de dépôt, décision, versements)."
    )
    phone: Phone | None = None


class ContactRead(ReadModel):
    name: str | None = Field(default=None, max_length=200)
    role: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=30)


class CandidateCreate(InputModel):
    """Enregistrement d'une organisation. Communes et EPCI : le SIRET suffit (R-REF-1)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "siret": "21130055300016",
                    "kind": "commune",
                    "contact": {"name": "Service numérique", "email": "numerique@marseille.fr"},
                }
            ]
        }
    )

    siret: Siret
    kind: OrganisationKind
    name: OrganisationName | None = None
    departement: DepartementCode | None = None
    region: RegionCode | None = Field(default=None, description="Pour une région : son code COG.")
    commune_insee: str | None = Field(default=None, pattern=r"^[0-9][0-9AB][0-9]{3}$")
    population: JsonInt | None = Field(default=None, ge=0, le=100_000_000)
    public_body_attestation: StrictBool = Field(
        default=False,
        description="Personne morale : atteste que ses financements ne proviennent que de "
        "collectivités locales (R-ELIG-1).",
    )
    contact: Contact | None = None


class CandidateUpdate(InputModel):
    """Champs qu'un candidat peut modifier sur sa propre organisation (avec If-Match)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"contact": {"email": "dsi@exemple-commune.fr"}}]}
    )

    # `T = Field(default=None)`: may be omitted, never null. The contract keeps T non-nullable;
    # None only stands for "not sent" (hence the type ignores).
    name: OrganisationName = Field(default=None)  # type: ignore[assignment]
    population: JsonInt | None = Field(default=None, ge=0, le=100_000_000)
    public_body_attestation: StrictBool = Field(default=None)  # type: ignore[assignment]
    contact: Contact = Field(default=None)  # type: ignore[assignment]


class CandidateRead(ReadModel):
    id: uuid.UUID
    siret: str = Field(max_length=14)
    siren: str = Field(max_length=9)
    name: str = Field(max_length=300)
    kind: OrganisationKind
    epci_type: str | None = Field(max_length=10)
    departement: str = Field(max_length=3)
    region: str | None = Field(max_length=3)
    commune_insee: str | None = Field(max_length=5)
    population: Count | None
    from_reference: StrictBool = Field(
        description="Identité (nom, département, population) issue du référentiel (R-REF-1)."
    )
    public_body_attestation: StrictBool
    verification: Verification = Field(
        description="Vérification de l'identité (R-REF-2) : `verified` d'emblée pour les "
        "communes et EPCI du référentiel, `to_verify` pour les autres jusqu'à la décision du "
        "préfet de leur département, `refused` avec son motif."
    )
    verification_reason: str | None = Field(
        max_length=1000, description="Motif du refus (ou remarque du préfet)."
    )
    verification_decided_at: datetime | None = Field(
        description="Date de la décision du préfet (null : aucune décision)."
    )
    contact: ContactRead | None = Field(
        description="Contact (donnée personnelle, R-NOTIF-1) : lu seulement par le candidat "
        "lui-même sur sa fiche ; null dans les listes et pour les autres rôles."
    )
    version: Version
    created_at: datetime
    updated_at: datetime


class VerificationDecision(InputModel):
    """Décision du préfet sur l'identité d'un candidat (R-REF-2)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"decision": "verified"},
                {
                    "decision": "refused",
                    "reason": "Statuts non fournis : la qualité de syndicat n'est pas établie.",
                },
            ]
        }
    )

    decision: Literal["verified", "refused"]
    reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="Motif, obligatoire pour un refus (R-REF-2).",
    )


class CandidateList(Page[CandidateRead]):
    """Une page de candidats, avec le curseur de la suivante."""
