"""API shapes of the programme."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictBool, model_validator

from app.core.schemas import InputModel, IsoDate, JsonInt, ReadModel, Version, not_blank
from app.programme.models import STRAND_CODE_LENGTH
from app.programme.rules import DOCUMENT_TYPES, Owner, Step
from app.programme.seed_nt2026 import NT2026
from app.reference.kinds import ELIGIBLE_KINDS, OrganisationKind

Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")]
Label = Annotated[str, Field(min_length=1, max_length=300), not_blank()]
Bps = Annotated[
    JsonInt, Field(ge=0, le=10000, description="Taux en points de base (10000 = 100 %).")
]
Cents = Annotated[JsonInt, Field(ge=0, le=10**12, description="Montant en centimes d'euro.")]

# R-PROG-1: a strand's code is the programme's to choose; rows name it in up to 20 characters.
StrandCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=STRAND_CODE_LENGTH,
        pattern=r"^[a-z0-9_]+$",
        description="Code d'un volet du programme (voir `GET /programme`).",
    ),
]
MAX_STRANDS = 10
MAX_CATEGORIES = 30
MAX_REQUIRED_DOCUMENTS = 30  # R-DOC-1: the kinds of document a programme may ask for


# R-EVAL-1: a weight is a positive integer, so that Σ weight (the total's divisor) is never 0.
Weight = Annotated[
    JsonInt,
    Field(ge=1, le=100, description="Poids du critère dans le total pondéré (entier de 1 à 100)."),
]


class Criterion(ReadModel):
    code: Code
    label: Label
    weight: Weight


class CriterionIn(InputModel):
    code: Code
    label: Label
    weight: Weight


class GridCriterion(ReadModel):
    code: Code
    label: Label
    weight: Weight
    group: Literal["general", "strand"] = Field(
        description="Critère général (commun aux volets) ou propre au volet."
    )


class ScoringGridRead(ReadModel):
    """R-EVAL-1 : la grille d'un volet (critères généraux + critères du volet), versionnée.

    Chaque modification des critères par la DINUM crée une nouvelle version ; une évaluation
    garde la version qu'elle a notée."""

    strand: StrandCode
    version: Version
    criteria: list[GridCriterion] = Field(max_length=40)
    created_at: datetime


Advisor = Literal["anct"]
# A strand's rules (R-PROG-1), the same on its read and its input shapes.
StrandDescription = Annotated[str | None, Field(max_length=2000)]
StrandRate = Annotated[
    Bps | None,
    Field(description="R-CAP-1 : taux maximal d'aide du volet ; null : celui du programme."),
]
StrandForfaits = Annotated[
    StrictBool,
    Field(description="R-CAP-3 : le barème de forfaits plafonne-t-il les aides de ce volet ?"),
]
StrandAdvisors = Annotated[
    list[Advisor],
    Field(
        max_length=1,
        description="R-EVAL-3 : évaluateurs consultatifs du volet (l'ANCT, `anct`).",
    ),
]


class Strand(ReadModel):
    """R-PROG-1 : un volet du programme, ses règles et sa grille."""

    code: StrandCode
    title: Label
    description: StrandDescription = None
    funding_cap_rate_bps: StrandRate = None
    forfaits: StrandForfaits = False
    advisors: StrandAdvisors = Field(default_factory=list)
    criteria: list[Criterion] = Field(max_length=20)


class StrandIn(InputModel):
    """R-PROG-1 : un volet du programme, tel que la DINUM le définit."""

    code: StrandCode
    title: Label
    description: StrandDescription = None
    funding_cap_rate_bps: StrandRate = None
    forfaits: StrandForfaits = False
    advisors: StrandAdvisors = Field(default_factory=list)
    criteria: list[CriterionIn] = Field(
        min_length=1,
        max_length=20,
        description="R-EVAL-1 : les critères propres au volet ; sa grille = critères généraux "
        "+ ceux-ci (chaque code une fois, vérifié avec tout le document : R-PROG-1).",
    )


class ForfaitTier(ReadModel):
    """R-CAP-3 : une ligne d'un barème de forfaits ; la première ligne qui correspond s'applique."""

    label: Label
    kinds: list[OrganisationKind] = Field(min_length=1, max_length=7)
    epci_types: list[Annotated[str, Field(max_length=10)]] | None = Field(
        default=None, max_length=10, description="Types d'EPCI concernés (CC, CA…), si restreint."
    )
    population_below: JsonInt | None = Field(
        default=None, ge=1, le=10**8, description="S'applique sous ce nombre d'habitants."
    )
    amount_cents: Cents


class ForfaitTierIn(InputModel):
    label: Label
    kinds: list[OrganisationKind] = Field(min_length=1, max_length=7)
    epci_types: list[Annotated[str, Field(max_length=10)]] | None = Field(
        default=None, max_length=10
    )
    population_below: JsonInt | None = Field(default=None, ge=1, le=10**8)
    amount_cents: Cents

    @model_validator(mode="after")
    def _eligible_kinds(self) -> ForfaitTierIn:
        if any(k not in ELIGIBLE_KINDS for k in self.kinds):
            raise ValueError("un forfait ne peut viser que des catégories éligibles (R-ELIG-1)")
        return self


MimeType = Annotated[
    str,
    Field(
        max_length=120,
        json_schema_extra={"enum": sorted(DOCUMENT_TYPES)},
        description="Type lu dans le contenu du fichier (R-DOC-2).",
    ),
]


class RequiredDocument(ReadModel):
    """R-DOC-1 : une pièce que le programme demande, à une étape du dossier."""

    code: Code = Field(description="Nature de la pièce, à donner en `kind` au dépôt.")
    label: Label
    owner: Owner = Field(
        description="`project` : déposée sur le dossier ; `candidate` : sur le candidat "
        "(son attestation)."
    )
    step: Step = Field(
        description="Étape qui l'exige : dépôt (`submission`), convention, rapport final."
    )
    strands: list[Code] | None = Field(
        default=None, max_length=10, description="Volets concernés ; null : tous."
    )
    candidate_kinds: list[OrganisationKind] | None = Field(
        default=None,
        max_length=10,
        description="Catégories de candidat concernées ; null : toutes.",
    )
    per_line_above_cents: Cents | None = Field(
        default=None,
        description="Une pièce par ligne de dépense d'un montant supérieur à ce seuil (ex. un "
        "devis) ; null : une pièce par dossier.",
    )
    allowed_types: list[MimeType] = Field(
        min_length=1, max_length=len(DOCUMENT_TYPES), description="Types acceptés (R-DOC-2)."
    )
    max_bytes: JsonInt = Field(
        ge=1024, le=20 * 1024 * 1024, description="Taille maximale en octets (R-DOC-2)."
    )


class RequiredDocumentIn(RequiredDocument, InputModel):
    """R-DOC-1 : une pièce demandée, telle que la DINUM la définit."""

    @model_validator(mode="after")
    def _known_types(self) -> RequiredDocumentIn:
        unknown = sorted(set(self.allowed_types) - set(DOCUMENT_TYPES))
        if unknown:
            raise ValueError(f"types inconnus : {', '.join(unknown)}")
        return self


class Category(ReadModel):
    """R-PROG-1 : une catégorie de dépense du programme."""

    code: Code
    label: Label
    excluded: StrictBool = Field(
        default=False, description="R-EXCL-1 : dépense jamais éligible dans ce programme."
    )
    share_capped: StrictBool = Field(
        default=False,
        description="R-EXCL-2 : hors fournisseur européen (`vendor_origin` autre que `eu`), "
        "la catégorie est plafonnée à `extra_eu_licence_share_cap_bps` du coût éligible.",
    )


class CategoryIn(Category, InputModel):
    """R-PROG-1 : une catégorie de dépense, telle que la DINUM la définit."""


ProgrammeStatusName = Literal["draft", "published", "closed"]


class ProgrammeDocumentRead(ReadModel):
    """R-PROG-1 : le document d'un programme, tout ce que l'appel décide."""

    code: str = Field(max_length=40)
    title: str = Field(max_length=300)
    dispositif_aide: str = Field(
        max_length=300, description="Nom du dispositif dans les données ouvertes (SCDL)."
    )
    eligible_kinds: list[OrganisationKind] = Field(
        max_length=len(OrganisationKind), description="R-ELIG-1 : catégories éligibles."
    )
    categories: list[Category] = Field(
        max_length=MAX_CATEGORIES, description="R-PROG-1 : catégories de dépense."
    )
    window_opens_on: date
    window_closes_on: date | None
    results_deadline: date
    max_duration_months: JsonInt = Field(ge=1, le=120)
    funding_cap_rate_bps: Bps
    extra_eu_licence_share_cap_bps: Bps
    committee_filing_threshold: JsonInt = Field(ge=1, le=1000)
    committee_max_interval_days: JsonInt = Field(ge=1, le=366)
    advance_cap_bps: Bps
    pre_final_payment_cap_bps: Bps
    small_population_threshold: JsonInt = Field(ge=1, le=10**8)
    general_criteria: list[Criterion] = Field(max_length=20)
    strands: list[Strand] = Field(max_length=MAX_STRANDS)
    forfaits: list[ForfaitTier] = Field(max_length=20)
    required_documents: list[RequiredDocument] = Field(
        max_length=MAX_REQUIRED_DOCUMENTS,
        description="R-DOC-1 : les pièces demandées, par étape et par volet.",
    )


class ProgrammeRead(ProgrammeDocumentRead):
    """Un appel à projets : son document, son état et les grilles en vigueur."""

    id: uuid.UUID
    status: ProgrammeStatusName = Field(
        description="R-PROG-1 : brouillon (`draft`), publié (`published`, ouvert aux dépôts "
        "dans sa fenêtre) ou clos (`closed`, lisible seulement)."
    )
    grids: list[ScoringGridRead] = Field(
        max_length=MAX_STRANDS, description="R-EVAL-1 : la grille en vigueur de chaque volet."
    )
    version: Version
    updated_at: datetime


class ProgrammeUpdate(InputModel):
    """Champs modifiables par la DINUM ; tous facultatifs, appliqués tels qu'envoyés. Le
    document qui en résulte est vérifié en entier (R-PROG-1) ; un programme publié garde ses
    volets (R-PROG-2)."""

    # `T = Field(default=None)`: may be omitted, never null. The contract keeps T non-nullable;
    # None only stands for "not sent" (hence the type ignores).
    title: Label = Field(default=None)  # type: ignore[assignment]
    dispositif_aide: Label = Field(  # type: ignore[assignment]
        default=None, description="Nom du dispositif dans les données ouvertes (SCDL)."
    )
    eligible_kinds: list[OrganisationKind] = Field(
        default=None,  # type: ignore[arg-type]
        min_length=1,
        max_length=len(OrganisationKind),
        description="R-ELIG-1 : catégories éligibles.",
    )
    categories: list[CategoryIn] = Field(
        default=None,  # type: ignore[arg-type]
        min_length=1,
        max_length=MAX_CATEGORIES,
    )
    window_opens_on: IsoDate = Field(default=None)  # type: ignore[assignment]
    window_closes_on: IsoDate | None = None
    results_deadline: IsoDate = Field(default=None)  # type: ignore[assignment]
    max_duration_months: JsonInt = Field(default=None, ge=1, le=120)  # type: ignore[assignment]
    funding_cap_rate_bps: Bps = Field(default=None)  # type: ignore[assignment]
    extra_eu_licence_share_cap_bps: Bps = Field(default=None)  # type: ignore[assignment]
    committee_filing_threshold: JsonInt = Field(default=None, ge=1, le=1000)  # type: ignore[assignment]
    committee_max_interval_days: JsonInt = Field(default=None, ge=1, le=366)  # type: ignore[assignment]
    advance_cap_bps: Bps = Field(default=None)  # type: ignore[assignment]
    pre_final_payment_cap_bps: Bps = Field(default=None)  # type: ignore[assignment]
    small_population_threshold: JsonInt = Field(default=None, ge=1, le=10**8)  # type: ignore[assignment]
    general_criteria: list[CriterionIn] = Field(default=None, min_length=1, max_length=20)  # type: ignore[arg-type]
    strands: list[StrandIn] = Field(default=None, min_length=1, max_length=MAX_STRANDS)  # type: ignore[arg-type]
    forfaits: list[ForfaitTierIn] = Field(default=None, max_length=20)  # type: ignore[arg-type]
    required_documents: list[RequiredDocumentIn] = Field(
        default=None,  # type: ignore[arg-type]
        max_length=MAX_REQUIRED_DOCUMENTS,
        description="R-DOC-1 : la liste complète des pièces demandées (remplace la précédente).",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [{"window_closes_on": "2022-06-30", "committee_filing_threshold": 10}]
        }
    }


ProgrammeCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Z0-9][A-Z0-9_-]*$",
        description="Code du programme (majuscules, chiffres, `-` et `_`).",
    ),
]
MAX_PROGRAMMES = 200


class ProgrammeDocument(InputModel):
    """R-PROG-1 : un programme (appel à projets) comme donnée, tout ce qu'il décide, vérifié
    comme un seul document : chaque incohérence est listée dans `errors` (422 R-PROG-1), avec
    son pointeur JSON et la règle qu'elle enfreint."""

    code: ProgrammeCode
    title: Label
    dispositif_aide: Label = Field(
        description="Nom du dispositif dans les données ouvertes (SCDL `dispositifAide`)."
    )
    window_opens_on: IsoDate
    window_closes_on: IsoDate | None = None
    results_deadline: IsoDate = Field(description="R-ELIG-5 : résultats tangibles avant.")
    max_duration_months: JsonInt = Field(ge=1, le=120, description="R-ELIG-6.")
    funding_cap_rate_bps: Bps = Field(description="R-CAP-1 : taux plafond par défaut.")
    extra_eu_licence_share_cap_bps: Bps = Field(
        description="R-EXCL-2 : part des catégories plafonnées hors UE (moins de 100 %)."
    )
    committee_filing_threshold: JsonInt = Field(ge=1, le=1000, description="R-COM-1.")
    committee_max_interval_days: JsonInt = Field(ge=1, le=366, description="R-COM-1.")
    advance_cap_bps: Bps = Field(description="R-PAY-1 : avance maximale.")
    pre_final_payment_cap_bps: Bps = Field(description="R-PAY-2 : versé avant le rapport final.")
    small_population_threshold: JsonInt = Field(ge=1, le=10**8)
    eligible_kinds: list[OrganisationKind] = Field(
        min_length=1, max_length=len(OrganisationKind), description="R-ELIG-1."
    )
    categories: list[CategoryIn] = Field(
        min_length=1, max_length=MAX_CATEGORIES, description="Catégories de dépense."
    )
    general_criteria: list[CriterionIn] = Field(
        min_length=1, max_length=20, description="R-EVAL-1 : critères communs aux volets."
    )
    strands: list[StrandIn] = Field(min_length=1, max_length=MAX_STRANDS)
    forfaits: list[ForfaitTierIn] = Field(
        default_factory=list,
        max_length=20,
        description="R-CAP-3 : barème, à donner si un volet applique les forfaits.",
    )
    required_documents: list[RequiredDocumentIn] = Field(
        default_factory=list, max_length=MAX_REQUIRED_DOCUMENTS, description="R-DOC-1."
    )


class ProgrammeSummary(ReadModel):
    """Un programme dans la liste : de quoi le choisir."""

    code: str = Field(max_length=40)
    title: str = Field(max_length=300)
    status: ProgrammeStatusName
    window_opens_on: date
    window_closes_on: date | None
    version: Version


class ProgrammeList(ReadModel):
    """Les programmes lisibles par l'appelant (les brouillons : DINUM seulement)."""

    items: list[ProgrammeSummary] = Field(max_length=MAX_PROGRAMMES)


class ProgrammeVersionRead(ReadModel):
    """R-PROG-2 : une version publiée d'un programme, telle qu'elle a été publiée ; une
    subvention garde la version sous laquelle elle a été décidée (R-PAY-4)."""

    version: Version
    document: ProgrammeDocumentRead = Field(description="Le document de cette version.")
    created_at: datetime


def _document_example() -> dict[str, Any]:
    """The seeded second call's document, as JSON: the contract's example of a version."""
    document = {name: NT2026[name] for name in ProgrammeDocument.model_fields}
    return json.loads(json.dumps(document, default=str))  # type: ignore[no-any-return]


class ProgrammeVersionList(ReadModel):
    """R-PROG-2 : les versions publiées d'un programme, de la plus ancienne à la plus récente."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "version": 1,
                            "document": _document_example(),
                            "created_at": "2026-01-15T09:00:00Z",
                        }
                    ]
                }
            ]
        }
    )

    items: list[ProgrammeVersionRead] = Field(max_length=1000)
