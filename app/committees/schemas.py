"""API shapes of committees."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field

from app.committees.rules import CommitteeStatus, DueReason, LeftReason, Outcome
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
from app.programme.schemas import StrandCode
from app.projects.schemas import ProgrammeCode, ProjectScores

PositiveCents = Annotated[
    JsonInt, Field(ge=1, le=10**13, description="Montant strictement positif, en centimes.")
]
Name = Annotated[str, Field(min_length=1, max_length=200), not_blank()]
Motivation = Annotated[str, Field(min_length=1, max_length=5_000), not_blank()]
MAX_AGENDA = 200


class MemberIn(InputModel):
    name: Name
    role: Name = Field(description="Qualité au comité (ex. « Préfet », « Sous-préfet »).")


class MemberRead(ReadModel):
    name: str = Field(max_length=200)
    role: str = Field(max_length=200)


class CommitteeCreate(InputModel):
    """Un comité de sélection du département du préfet ; le premier membre le préside."""

    programme: ProgrammeCode | None = Field(
        default=None,
        description="Code du programme du comité ; par défaut, le programme par défaut du "
        "service (`GET /programme`). Un code inconnu : 422 (R-PROG-2).",
    )
    meeting_on: IsoDate
    members: list[MemberIn] = Field(min_length=1, max_length=50)
    title: Annotated[str, Field(min_length=1, max_length=200), not_blank()] | None = None


class AgendaChange(InputModel):
    """Retirer puis ajouter des dossiers (les retraits s'appliquent d'abord ; ajouter un dossier
    déjà inscrit ou retirer un dossier absent ne change rien)."""

    add: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_AGENDA)
    remove: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_AGENDA)


class AcceptedDecision(InputModel):
    project_id: uuid.UUID
    outcome: Literal[Outcome.ACCEPTED]
    granted_cents: PositiveCents = Field(
        description="Montant accordé : ≤ plafond du dossier et ≤ montant demandé (R-CAP-1, "
        "R-CAP-3), subvention + autres financements publics ≤ coût total (R-CAP-2)."
    )
    motivation: Motivation | None = None


class RejectedDecision(InputModel):
    project_id: uuid.UUID
    outcome: Literal[Outcome.REJECTED]
    motivation: Motivation = Field(description="Obligatoire pour un refus (R-COM-3).")


class DeferredDecision(InputModel):
    project_id: uuid.UUID
    outcome: Literal[Outcome.DEFERRED]
    motivation: Motivation | None = None


DecisionCreate = Annotated[
    AcceptedDecision | RejectedDecision | DeferredDecision, Field(discriminator="outcome")
]


class DecisionRead(ReadModel):
    outcome: Outcome
    granted_cents: Cents | None
    motivation: str | None = Field(max_length=5_000)
    decided_at: datetime
    eligible_cost_cents: Cents | None = Field(description="Coût éligible retenu.")
    max_grant_cents: Cents | None = Field(description="Plafond du dossier (R-CAP-1, R-CAP-3).")
    forfait_cents: Cents | None = Field(
        description="Forfait applicable (volets à forfaits du programme, R-CAP-3)."
    )
    envelope_available_before_cents: Cents | None = Field(
        description="Disponible de l'enveloppe avant l'engagement (à la clôture)."
    )
    envelope_available_after_cents: Cents | None = Field(
        description="Disponible de l'enveloppe après l'engagement (à la clôture)."
    )
    reference: str | None = Field(max_length=300)


class AgendaItemRead(ReadModel):
    """Un dossier à l'ordre du jour (trié par note moyenne décroissante, les petites
    collectivités d'abord à note égale, puis par date de dépôt — R-COM-4)."""

    project_id: uuid.UUID
    title: str = Field(max_length=200)
    candidate_id: uuid.UUID
    candidate_name: str = Field(max_length=300)
    population: Count | None
    small_population: bool = Field(
        description="Candidat de moins de 5 000 habitants (seuil du programme, R-COM-4)."
    )
    strand: StrandCode
    status: str = Field(max_length=20)
    submitted_at: datetime | None
    requested_cents: Cents
    max_grant_cents: Cents = Field(description="Plafond du dossier (R-CAP-1, R-CAP-3).")
    evaluations: ProjectScores = Field(
        description="Évaluations de la préfecture (moyenne pondérée qui ordonne l'ordre du jour) "
        "et avis consultatifs de l'ANCT à part (R-EVAL-3)."
    )
    decision: DecisionRead | None


class CommitteeSummary(ReadModel):
    id: uuid.UUID
    programme: str = Field(max_length=40, description="Code du programme du comité (R-PROG-2).")
    departement: str = Field(max_length=3)
    title: str | None = Field(max_length=200)
    meeting_on: date
    status: CommitteeStatus
    chair: MemberRead
    members: list[MemberRead] = Field(max_length=50)
    agenda_count: Count
    closed_at: datetime | None
    cancelled_at: datetime | None = Field(
        description="Annulation du comité (planifié, sans décision : R-COM-2) ; null sinon."
    )
    version: Version
    created_at: datetime
    updated_at: datetime


class CommitteeRead(CommitteeSummary):
    envelope_available_before_cents: Cents | None
    envelope_available_after_cents: Cents | None
    agenda: list[AgendaItemRead] = Field(max_length=1_000)


class CommitteeList(Page[CommitteeSummary]):
    """Une page de comités, avec le curseur de la suivante."""


class CommitteeDueRead(ReadModel):
    """R-COM-1 pour un département."""

    departement: str = Field(max_length=3)
    due: bool
    reason: DueReason | None = Field(
        description="threshold : seuil de dossiers déposés atteint ; month : un mois calendaire "
        "écoulé avec au moins un dossier en attente."
    )
    submitted_since_last: Count = Field(
        description="Dossiers en attente déposés depuis le dernier comité clos (les dossiers "
        "renvoyés, retirés ou classés sans suite ne comptent pas)."
    )
    waiting: Count = Field(description="Dossiers déposés ou en instruction, non encore décidés.")
    since: datetime | None = Field(description="Clôture du dernier comité ; null avant le premier.")
    first_submitted_at: datetime | None = Field(
        description="Dépôt le plus ancien des dossiers en attente (point de départ du mois "
        "avant le premier comité) ; null sans dossier en attente."
    )
    threshold: Count


class CommitteeStatusList(ReadModel):
    items: list[CommitteeDueRead] = Field(max_length=200)


class StrandTotal(ReadModel):
    strand: StrandCode
    accepted_count: Count
    accepted_cents: Cents
    rejected_count: Count
    deferred_count: Count


class LeftAgendaRead(ReadModel):
    """Un dossier sorti de l'ordre du jour d'un comité ouvert (R-COM-2)."""

    at: datetime
    reason: LeftReason = Field(
        description="returned : renvoyé au candidat pour complément ; withdrawn : retiré par "
        "le candidat ; closed : classé sans suite."
    )


class MinutesDecision(ReadModel):
    project_id: uuid.UUID
    title: str = Field(max_length=200)
    candidate_name: str = Field(max_length=300)
    strand: StrandCode
    requested_cents: Cents
    decision: DecisionRead | None
    left_agenda: LeftAgendaRead | None = Field(
        description="Renseigné quand le dossier a quitté l'ordre du jour avant la clôture "
        "(renvoyé, retiré ou classé sans suite, R-COM-2) ; il n'est alors pas décidé."
    )


class MinutesRead(ReadModel):
    """Le procès-verbal du comité."""

    committee_id: uuid.UUID
    departement: str = Field(max_length=3)
    title: str | None = Field(max_length=200)
    meeting_on: date
    status: CommitteeStatus
    chair: MemberRead
    members: list[MemberRead] = Field(max_length=50)
    closed_at: datetime | None
    envelope_available_before_cents: Cents | None
    envelope_available_after_cents: Cents | None
    decisions: list[MinutesDecision] = Field(max_length=1_000)
    totals: list[StrandTotal] = Field(max_length=3)
    accepted_cents: Cents


class ProjectDecisionRead(ReadModel):
    """La décision du comité sur un dossier (le candidat la lit après la clôture seulement)."""

    project_id: uuid.UUID
    committee_id: uuid.UUID
    committee_meeting_on: date
    committee_status: CommitteeStatus
    final: bool = Field(description="Vrai une fois le comité clos (décision définitive).")
    outcome: Outcome
    granted_cents: Cents | None
    motivation: str | None = Field(max_length=5_000)
    decided_at: datetime
    reference: str | None = Field(max_length=300)
