"""API shapes of budgets."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from app.auth.principal import Role
from app.budgets.rules import (
    AllocationKind,
    ConventionKind,
    MovementKind,
    PaymentConditions,
    PaymentKind,
)
from app.candidates.schemas import DepartementCode, Siret
from app.core.pagination import Page
from app.core.schemas import (
    Cents,
    Count,
    InputModel,
    IsoDate,
    JsonInt,
    ReadModel,
    Version,
    not_blank,
)
from app.programme.schemas import ForfaitTier, ForfaitTierIn

PositiveCents = Annotated[
    JsonInt, Field(ge=1, le=10**13, description="Montant strictement positif, en centimes.")
]
Reference = Annotated[str, Field(min_length=1, max_length=300), not_blank()]


class EnvelopeRead(ReadModel):
    """Montants d'une enveloppe départementale, tenus en phase avec son grand livre."""

    id: uuid.UUID
    programme: str = Field(max_length=40, description="Code du programme de l'enveloppe.")
    departement: str = Field(max_length=3)
    prefecture_name: str = Field(max_length=300)
    prefecture_siret: str = Field(max_length=14)
    allocated_cents: Cents
    committed_cents: Cents
    paid_cents: Cents
    available_cents: Cents = Field(description="Alloué − engagé.")
    use_rate_bps: JsonInt = Field(
        ge=0, le=10_000, description="Engagé / alloué, en points de base."
    )
    version: Version
    updated_at: datetime


class EnvelopeList(Page[EnvelopeRead]):
    """Une page d'enveloppes, avec le curseur de la suivante."""


class AllocationCreate(InputModel):
    """Allocation, abondement, réduction ou transfert (vers un autre département) par la DINUM."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "allocation",
                    "amount_cents": 50_000_000,
                    "reference": "Arrêté de délégation n° 1",
                    "prefecture_name": "Préfecture des Bouches-du-Rhône",
                    "prefecture_siret": "13002526500013",
                }
            ]
        }
    )

    kind: AllocationKind
    amount_cents: PositiveCents
    reference: Reference
    to_departement: DepartementCode | None = Field(
        default=None, description="Pour un transfert : le département qui reçoit."
    )
    prefecture_name: Annotated[str, Field(min_length=1, max_length=300), not_blank()] | None = (
        Field(default=None, description="Requis à la première allocation d'un département.")
    )
    prefecture_siret: Siret | None = Field(
        default=None, description="Requis à la première allocation d'un département."
    )

    @model_validator(mode="after")
    def _transfer_target(self) -> AllocationCreate:
        if (self.kind is AllocationKind.TRANSFER) != (self.to_departement is not None):
            raise ValueError("to_departement est requis pour un transfert, et seulement alors")
        return self


class MovementRead(ReadModel):
    id: Annotated[JsonInt, Field(ge=1, le=2**63 - 1)]
    departement: str = Field(max_length=3)
    kind: MovementKind
    allocated_delta_cents: Annotated[JsonInt, Field(ge=-(10**13), le=10**13)]
    committed_delta_cents: Annotated[JsonInt, Field(ge=-(10**13), le=10**13)]
    paid_delta_cents: Annotated[JsonInt, Field(ge=-(10**13), le=10**13)]
    project_id: uuid.UUID | None
    reference: str | None = Field(max_length=300)
    actor: str = Field(max_length=255)
    actor_role: Role
    at: datetime


class AllocationResult(ReadModel):
    envelope: EnvelopeRead
    movements: list[MovementRead] = Field(max_length=2)


class LedgerPage(Page[MovementRead]):
    """Une page de mouvements (du plus ancien au plus récent) et le curseur suivant."""


class ForfaitScheduleRead(ReadModel):
    departement: str = Field(max_length=3)
    source: str = Field(pattern=r"^(programme|departement)$")
    tiers: list[ForfaitTier] = Field(max_length=20)
    version: Count


class ForfaitScheduleUpdate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    # R-CAP-3: every eligible kind has a line without condition.
                    "tiers": [
                        {
                            "label": "Communes de moins de 5 000 habitants",
                            "kinds": ["commune"],
                            "population_below": 5000,
                            "amount_cents": 600_000,
                        },
                        {
                            "label": "Autres communes",
                            "kinds": ["commune"],
                            "amount_cents": 1_200_000,
                        },
                        {
                            "label": "Autres collectivités et organismes publics",
                            "kinds": [
                                "region",
                                "departement",
                                "epci",
                                "syndicat",
                                "collectivite_outre_mer",
                                "public_body",
                            ],
                            "amount_cents": 2_000_000,
                        },
                    ]
                }
            ]
        }
    )

    tiers: list[ForfaitTierIn] = Field(max_length=20)


class ScheduleItem(InputModel):
    label: Annotated[str, Field(min_length=1, max_length=200), not_blank()]
    kind: PaymentKind = Field(
        description="Nature du versement prévu : avance, acompte ou solde (R-PAY-1, R-PAY-2)."
    )
    due_on: IsoDate
    amount_cents: PositiveCents


class ScheduleItemRead(ReadModel):
    label: str = Field(max_length=200)
    kind: PaymentKind | None = Field(
        default=None, description="Absent des échéanciers antérieurs à R-PAY-3."
    )
    due_on: date
    amount_cents: Cents


class ConventionCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reference": "CRTE-13-2021-042",
                    "kind": "crte",
                    "signed_on": "2021-09-15",
                    "schedule": [
                        {
                            "label": "Avance",
                            "kind": "advance",
                            "due_on": "2021-10-01",
                            "amount_cents": 300_000,
                        },
                        {
                            "label": "Solde",
                            "kind": "balance",
                            "due_on": "2022-12-31",
                            "amount_cents": 700_000,
                        },
                    ],
                }
            ]
        }
    )

    reference: Annotated[str, Field(min_length=1, max_length=100), not_blank()]
    kind: ConventionKind
    signed_on: IsoDate
    schedule: list[ScheduleItem] = Field(default_factory=list, max_length=24)


class ConventionRead(ReadModel):
    reference: str = Field(max_length=100)
    kind: ConventionKind
    signed_on: date
    schedule: list[ScheduleItemRead] = Field(max_length=24)
    payment_conditions: PaymentConditions = Field(
        description="SCDL `conditionsVersement` : unique (un versement prévu), échelonné "
        "(plusieurs) ou autre (aucun échéancier)."
    )
    payment_period_start: date | None = Field(
        description="SCDL `datesPeriodeVersement` : première échéance."
    )
    payment_period_end: date | None = Field(
        description="SCDL `datesPeriodeVersement` : dernière échéance."
    )
    created_at: datetime


class PaymentCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "advance",
                    "amount_cents": 300_000,
                    "paid_on": "2021-10-01",
                    "reference": "DP-2021-1234",
                }
            ]
        }
    )

    kind: PaymentKind
    amount_cents: PositiveCents
    paid_on: IsoDate
    reference: Annotated[str, Field(min_length=1, max_length=100), not_blank()] | None = None


class PaymentRead(ReadModel):
    id: uuid.UUID
    project_id: uuid.UUID
    kind: PaymentKind
    amount_cents: Cents
    paid_on: date
    reference: str | None = Field(max_length=100)
    created_at: datetime


class FinalReportCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"received_on": "2022-11-30", "summary": "Service en ligne ouvert."}]
        }
    )

    received_on: IsoDate
    summary: Annotated[str, Field(min_length=1, max_length=10_000), not_blank()]


class CancelRequest(InputModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Projet abandonné par la collectivité."}]}
    )

    reason: Annotated[str, Field(min_length=1, max_length=5_000), not_blank()]


Bps = Annotated[JsonInt, Field(ge=0, le=10_000)]


class GrantTerms(ReadModel):
    """Les conditions figées à la clôture du comité qui a décidé la subvention (R-PAY-4) :
    elles la régissent jusqu'au bout, quelles que soient les modifications ultérieures du
    programme."""

    eligible_cost_cents: Cents = Field(description="Coût éligible retenu à la décision.")
    aid_rate_bps: Bps = Field(
        description="Taux de financement maximal (R-CAP-1), en points de base."
    )
    forfait_cents: Cents | None = Field(description="Forfait applicable (R-CAP-3), s'il y en a un.")
    forfait_tier: str | None = Field(
        max_length=300,
        description="Palier du forfait (son libellé) ; null si inconnu ou sans forfait.",
    )
    advance_cap_bps: Bps = Field(description="Plafond de l'avance (R-PAY-1), en points de base.")
    pre_final_payment_cap_bps: Bps = Field(
        description="Plafond des versements avant le rapport final (R-PAY-2), en points de base."
    )
    programme_version: Version = Field(description="Version du programme en vigueur à la décision.")
    grid_version: Version | None = Field(
        description="Version de la grille d'évaluation du volet en vigueur à la décision."
    )


class GrantRead(ReadModel):
    """La subvention d'un dossier, telle que la voient son candidat, le préfet ou la DINUM."""

    project_id: uuid.UUID
    project_status: str = Field(max_length=20)
    departement: str = Field(max_length=3)
    amount_cents: Cents
    paid_cents: Cents
    remaining_cents: Cents
    advance_paid_cents: Cents
    released_cents: Cents
    net_cents: Cents = Field(
        description="Montant net (§5) : accordé moins ce qui a été libéré au solde ou à "
        "l'annulation ; c'est le montant publié en données ouvertes."
    )
    terms: GrantTerms = Field(
        description="Conditions figées à la clôture du comité (R-PAY-4) : elles régissent les "
        "paiements, les tableaux de bord et les données ouvertes de cette subvention."
    )
    status: str = Field(pattern=r"^(active|cancelled|closed)$")
    final_report_on: date | None
    committed_at: datetime
    decision_reference: str | None = Field(
        max_length=300, description="Référence de la décision d'attribution (SCDL)."
    )
    decided_on: date = Field(description="Date de la décision d'attribution (SCDL).")
    convention: ConventionRead | None
    payments: list[PaymentRead] = Field(max_length=1_000)
