"""API shapes of projects."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import ConfigDict, Field, StrictBool

from app.auth.principal import Role
from app.candidates.schemas import DepartementCode
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
from app.programme.dependencies import CODE_PATTERN
from app.programme.rules import Step
from app.programme.schemas import MAX_REQUIRED_DOCUMENTS, StrandCode
from app.projects.cost_rules import VendorOrigin
from app.projects.eligibility_rules import Nature
from app.projects.lifecycle_rules import Action, ProjectAction, Status

# R-PROG-1: the strand is one of the dossier's programme's (checked by the service, 422).
Strand = StrandCode
# R-PROG-1: an expense category is one of the programme's (checked by the service, 422).
CategoryCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=r"^[a-z0-9_]+$",
        description="Code d'une catégorie de dépense du programme (voir `GET /programme`).",
    ),
]
ProgrammeCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=CODE_PATTERN,
        description="Code du programme (appel à projets) ; absent : le programme par défaut "
        "du service (R-PROG-2).",
    ),
]
ShortText = Annotated[str, Field(min_length=1, max_length=200), not_blank()]
LongText = Annotated[str, Field(min_length=1, max_length=10_000), not_blank()]
SponsorText = Annotated[str, Field(min_length=1, max_length=200), not_blank("R-ELIG-3")]


MAX_EXPENSE_LINES = 100  # a dossier's expense lines


class Sponsor(InputModel):
    """R-ELIG-3 : l'élu ou le directeur qui engage la collectivité (ni vide ni blanc)."""

    name: SponsorText
    role: SponsorText


class SponsorRead(ReadModel):
    name: str | None = Field(max_length=200)
    role: str | None = Field(max_length=200)


class TeamMember(InputModel):
    name: ShortText
    role: ShortText
    skills: str | None = Field(default=None, max_length=1_000)
    availability_pct: JsonInt | None = Field(default=None, ge=0, le=100)


class TeamMemberRead(ReadModel):
    name: str = Field(max_length=200)
    role: str = Field(max_length=200)
    skills: str | None = Field(default=None, max_length=1_000)
    availability_pct: JsonInt | None = Field(default=None, ge=0, le=100)


# 100 lines of at most 1 000 000 000 € stay within the totals' bound (Cents, 10^13).
LineCents = Annotated[JsonInt, Field(ge=0, le=10**11, description="Montant en centimes d'euro.")]


class ExpenseLineIn(InputModel):
    category: CategoryCode
    label: ShortText
    amount_cents: LineCents
    vendor_origin: VendorOrigin | None = Field(
        default=None, description="Pour les licences : éditeur de l'UE ou extra-communautaire."
    )
    provider_departement: DepartementCode | None = Field(
        default=None, description="Pour les prestations : département du prestataire."
    )


class ExpenseLineRead(ReadModel):
    id: uuid.UUID
    category: str = Field(max_length=40)
    label: str = Field(max_length=300)
    amount_cents: Cents
    vendor_origin: VendorOrigin | None
    provider_departement: str | None = Field(max_length=3)


class FundingLineIn(InputModel):
    funder: ShortText
    amount_cents: LineCents


class FundingLineRead(ReadModel):
    id: uuid.UUID
    funder: str = Field(max_length=300)
    amount_cents: Cents


class ProjectCreate(InputModel):
    """Un nouveau dossier, déposé en brouillon par un candidat pour sa propre organisation."""

    # Its example is the contract's (app.contract.examples: the default programme's data).
    programme: ProgrammeCode | None = Field(
        default=None,
        description="Code du programme ; par défaut, le programme par défaut du service "
        "(`GET /programme`). Le programme doit être publié (R-PROG-1) ; un code inconnu : "
        "422 (R-PROG-2). Fixé à la création.",
    )
    strand: Strand
    title: ShortText
    description: LongText
    objectives: LongText | None = None
    nature: Nature | None = None
    start_on: IsoDate | None = None
    end_on: IsoDate | None = None
    sponsor: Sponsor | None = None
    team: list[TeamMember] = Field(default_factory=list, max_length=50)
    agents_impacted: JsonInt = Field(default=0, ge=0, le=10_000_000)
    users_impacted: JsonInt = Field(default=0, ge=0, le=100_000_000)
    replicability: LongText | None = None
    open_source: StrictBool = False
    expense_lines: list[ExpenseLineIn] = Field(default_factory=list, max_length=MAX_EXPENSE_LINES)
    other_funding: list[FundingLineIn] = Field(default_factory=list, max_length=20)
    requested_cents: Cents = 0


class ProjectUpdate(InputModel):
    """Modification d'un brouillon (R-FLOW-3). Une liste envoyée remplace la liste entière."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"requested_cents": 2_500_000, "end_on": "2022-09-30"}]}
    )

    # `T = Field(default=None)`: may be omitted, never null. The contract keeps T non-nullable;
    # None only stands for "not sent" (hence the type ignores).
    strand: Strand = Field(default=None)  # type: ignore[assignment]
    title: ShortText = Field(default=None)  # type: ignore[assignment]
    description: LongText = Field(default=None)  # type: ignore[assignment]
    objectives: LongText | None = None
    nature: Nature | None = None
    start_on: IsoDate | None = None
    end_on: IsoDate | None = None
    sponsor: Sponsor | None = None
    team: list[TeamMember] = Field(default=None, max_length=50)  # type: ignore[arg-type]
    agents_impacted: JsonInt = Field(default=None, ge=0, le=10_000_000)  # type: ignore[assignment]
    users_impacted: JsonInt = Field(default=None, ge=0, le=100_000_000)  # type: ignore[assignment]
    replicability: LongText | None = None
    open_source: StrictBool = Field(default=None)  # type: ignore[assignment]
    expense_lines: list[ExpenseLineIn] = Field(default=None, max_length=MAX_EXPENSE_LINES)  # type: ignore[arg-type]
    other_funding: list[FundingLineIn] = Field(default=None, max_length=20)  # type: ignore[arg-type]
    requested_cents: Cents = Field(default=None)  # type: ignore[assignment]


ScoreText = Annotated[
    str,
    Field(
        pattern=r"^[0-5]\.\d{2}$",
        description="Note sur 5, deux décimales (arrondi au plus proche, demi vers le haut).",
    ),
]


class ProjectScores(ReadModel):
    """R-EVAL-3 : la synthèse des évaluations (jamais montrée aux candidats, R-EVAL-4)."""

    count: Count = Field(description="Évaluations de la préfecture, hors déports.")
    mean_weighted_total: ScoreText | None = Field(
        description="Moyenne des totaux pondérés de la préfecture (ordonne l'ordre du jour)."
    )
    advisory_count: Count = Field(
        description="Évaluations consultatives de l'ANCT (sur les volets que le programme lui "
        "confie, R-EVAL-3)."
    )
    advisory_mean_weighted_total: ScoreText | None = Field(
        description="Moyenne des évaluations consultatives, à part, jamais dans la moyenne."
    )


class ProjectSummary(ReadModel):
    """Un dossier tel que les listes le montrent (sans les lignes)."""

    id: uuid.UUID
    candidate_id: uuid.UUID
    candidate_name: str = Field(max_length=300)
    programme: str = Field(max_length=40, description="Code du programme du dossier (R-PROG-2).")
    departement: str = Field(max_length=3)
    strand: StrandCode
    title: str = Field(max_length=200)
    nature: Nature | None
    status: Status
    requested_cents: Cents
    total_cost_cents: Cents
    start_on: date | None
    end_on: date | None
    submitted_at: datetime | None = Field(description="Date du dernier dépôt (UTC).")
    returned_at: datetime | None = Field(
        description="Date du dernier renvoi pour complément par le préfet (UTC). Un brouillon "
        "(`draft`) qui la porte est un dossier renvoyé, à compléter selon `status_message` "
        "(lecture d'un dossier), pas un nouveau brouillon."
    )
    allowed_actions: list[ProjectAction] = Field(
        max_length=len(ProjectAction),
        description="Ce que vous pouvez faire maintenant sur ce dossier, selon votre rôle et son "
        "état, jugé par les mêmes règles que l'action elle-même (R-FLOW-1, R-FLOW-3) : `edit` "
        "(PATCH /projects/{id}), `submit`, `withdraw`, `start-review`, `return`, `close`, "
        "`convention`, `payments`, `cancel`, `final-report` (POST /projects/{id}/<action> ; le "
        "rapport final tant que la subvention est active et qu'il n'est pas enregistré, "
        "R-PAY-2), `evaluate` (POST /projects/{id}/evaluations : préfecture, ANCT sur les "
        "volets que le programme lui confie, R-EVAL-3 ; tant que vous n'avez pas évalué ce "
        "dossier, R-EVAL-2). Le dépôt reste soumis au contrôle d'éligibilité (R-FLOW-2, "
        "422), une évaluation à sa grille (R-EVAL-1, 422).",
    )
    evaluations: ProjectScores | None = Field(
        description="Synthèse des évaluations pour les agents de l'État ; null pour un "
        "candidat (R-EVAL-4)."
    )
    version: Version
    created_at: datetime
    updated_at: datetime


class ProjectRead(ProjectSummary):
    description: str = Field(max_length=10_000)
    objectives: str | None = Field(max_length=10_000)
    status_message: str | None = Field(
        max_length=5_000, description="Message du dernier renvoi ou motif de classement."
    )
    sponsor: SponsorRead
    team: list[TeamMemberRead] = Field(max_length=50)
    agents_impacted: Count
    users_impacted: Count
    replicability: str | None = Field(max_length=10_000)
    open_source: StrictBool
    expense_lines: list[ExpenseLineRead] = Field(max_length=MAX_EXPENSE_LINES)
    other_funding: list[FundingLineRead] = Field(max_length=20)


class ProjectList(Page[ProjectSummary]):
    """Une page de dossiers (résumés), avec le curseur de la suivante."""


class RuleFailureRead(ReadModel):
    code: str = Field(max_length=20)
    message: str = Field(max_length=1_000)
    field: str | None = Field(max_length=100)


class LineOutcomeRead(ReadModel):
    """Une ligne de dépense, ou la part d'une ligne, qui n'est pas éligible."""

    line_id: uuid.UUID | None
    position: Count
    label: str = Field(max_length=300)
    amount_cents: Cents
    eligible_cents: Cents
    excluded_cents: Cents
    rule: str = Field(max_length=20)
    reason: str = Field(max_length=1_000)


# R-DOC-1: at most one missing document per kind the programme asks for and per expense line.
MAX_DOCUMENT_FAILURES = MAX_REQUIRED_DOCUMENTS * MAX_EXPENSE_LINES


class EligibilityRead(ReadModel):
    """Ce qu'un front-end affiche avant le dépôt (R-FLOW-2)."""

    project_id: uuid.UUID
    status: Status
    eligible: StrictBool
    total_cost_cents: Cents
    eligible_cost_cents: Cents
    excluded_cents: Cents
    excluded: list[LineOutcomeRead] = Field(max_length=100)
    funding_cap_cents: Cents = Field(description="R-CAP-1 : coût éligible × taux plafond.")
    forfait_cents: Cents | None = Field(description="R-CAP-3 : forfait applicable.")
    forfait_tier: str | None = Field(
        max_length=300,
        description="R-CAP-3 : le palier du barème qui fixe ce forfait (ex. « Communes de moins "
        "de 5 000 habitants ») ; null sans forfait. Une demande au-delà d'un forfait inférieur "
        "au plafond R-CAP-1 échoue en R-CAP-3, qui le nomme.",
    )
    max_grant_cents: Cents = Field(
        description="Subvention maximale : min(forfait, plafond R-CAP-1) ; le comité peut "
        "accorder moins que la demande, jamais plus (R-CAP-1, R-CAP-3)."
    )
    requested_cents: Cents
    other_public_funding_cents: Cents
    failures: list[RuleFailureRead] = Field(max_length=250 + MAX_DOCUMENT_FAILURES)
    documents_step: Step | None = Field(
        description="R-DOC-1 : l'étape dont le dossier rassemble les pièces (`submission` pour "
        "un brouillon, `convention` une fois accepté, `final_report` sous convention) ; null "
        "ensuite."
    )
    missing_documents: list[RuleFailureRead] = Field(
        max_length=MAX_DOCUMENT_FAILURES,
        description="R-DOC-1 : chaque pièce que cette étape attend encore (manquante, en cours "
        "d'analyse antivirus ou infectée), avec le champ qu'elle vise.",
    )


class ReturnRequest(InputModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"message": "Merci de préciser le plan de financement."}]}
    )

    message: Annotated[str, Field(min_length=1, max_length=5_000), not_blank()]


class CloseRequest(InputModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Projet abandonné par la collectivité."}]}
    )

    reason: Annotated[str, Field(min_length=1, max_length=5_000), not_blank()]


class TransitionRead(ReadModel):
    id: Annotated[JsonInt, Field(ge=1, le=2**63 - 1)]
    action: Action
    from_status: Status | None
    to_status: Status
    actor_role: Role
    actor: str | None = Field(
        max_length=255,
        description="Agent ayant agi (masqué pour les candidats s'il est de l'État).",
    )
    message: str | None = Field(max_length=5_000)
    at: datetime


class HistoryRead(ReadModel):
    project_id: uuid.UUID
    items: list[TransitionRead] = Field(max_length=1_000)
