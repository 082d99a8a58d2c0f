"""API models of the démarches-simplifiées integration (issue 14)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from app.core.schemas import Count, InputModel, ReadModel, Version, not_blank
from app.programme.schemas import StrandCode
from app.projects.cost_rules import VendorOrigin
from app.projects.eligibility_rules import Nature
from app.projects.schemas import CategoryCode, ProgrammeCode
from app.reference.kinds import OrganisationKind

Selector = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="Libellé du champ DS, ou son identifiant (descripteur).",
    ),
    not_blank(),
]
DsNumber = Annotated[int, Field(ge=0, le=2**53 - 1)]
DsLabel = Annotated[str, Field(max_length=300)]


class ChampFields(InputModel):
    """Champ DS (libellé ou identifiant) de chaque donnée du dossier."""

    siret: Selector
    kind: Selector
    departement: Selector | None = None
    strand: Selector
    title: Selector
    description: Selector
    nature: Selector | None = None
    start_on: Selector
    end_on: Selector
    requested: Selector = Field(description="Montant de subvention demandé (en euros sur DS).")
    sponsor_name: Selector | None = None
    sponsor_role: Selector | None = None


class ExpenseFields(InputModel):
    """Le bloc répété des postes de dépense et ses champs."""

    block: Selector
    category: Selector
    label: Selector
    amount: Selector = Field(description="Montant de la ligne (en euros sur DS).")


class KindEntry(InputModel):
    label: DsLabel = Field(description="Valeur du champ DS du type de collectivité.")
    kind: OrganisationKind


class StrandEntry(InputModel):
    label: DsLabel = Field(description="Valeur du champ DS du volet.")
    strand: StrandCode


class CategoryEntry(InputModel):
    label: DsLabel = Field(description="Valeur DS de la nature de la dépense.")
    category: CategoryCode
    vendor_origin: VendorOrigin | None = Field(
        default=None, description="Pour une licence : éditeur de l'UE ou extra-communautaire."
    )


class DocumentEntry(InputModel):
    """Un champ « pièce justificative » de la démarche et la nature de pièce de ses fichiers."""

    champ: Selector = Field(
        description="Champ « pièce justificative » de la démarche (libellé ou identifiant)."
    )
    kind: str = Field(
        pattern=r"^[a-z0-9_]{1,40}$",
        description="Nature de pièce du guichet sous laquelle ses fichiers sont importés "
        "(R-DOC-1) : le `code` d'une pièce du programme déposée sur le dossier, une par "
        "dossier (une pièce par ligne de dépense, comme un devis, ne s'importe pas).",
        examples=["deliberation"],
    )


class MappingIn(InputModel):
    """Correspondance d'une démarche DS vers les dossiers du guichet. Une valeur absente des
    tables (type, volet, catégorie) refuse le dossier : rien n'est deviné. Les volets et les
    catégories nommés sont ceux d'un programme (R-PROG-1, 422 sinon)."""

    # Its example is the contract's (app.contract.examples: the default programme's data).

    departement: str | None = Field(
        default=None,
        pattern=r"^(0[1-9]|[1-8][0-9]|9[0-5]|2[AB]|97[1-6])$",
        description="DINUM : département de la démarche (absent : nationale). Un préfet : le "
        "sien (par défaut).",
    )
    programme: ProgrammeCode | None = Field(
        default=None,
        description="Code du programme dans lequel la démarche importe ses dossiers ; par "
        "défaut, le programme par défaut du service (`GET /programme`). Un code inconnu : 422 "
        "(R-PROG-2).",
    )
    fields: ChampFields
    nature: Nature | None = Field(
        default=None,
        description="R-ELIG-4 : nature déclarée pour toute la démarche, quand aucun champ ne "
        "la porte.",
    )
    kinds: list[KindEntry] = Field(
        max_length=100, description="Types de collectivité (une valeur répétée : la dernière)."
    )
    strands: list[StrandEntry] = Field(max_length=20)
    expenses: ExpenseFields
    categories: list[CategoryEntry] = Field(max_length=200)
    documents: list[DocumentEntry] = Field(
        default_factory=list,
        max_length=20,
        description="Pièces justificatives : chaque champ « pièce justificative » de la "
        "démarche et la nature de pièce du guichet de ses fichiers. À chaque synchronisation, "
        "leurs fichiers sont téléchargés depuis DS (leurs liens expirent), vérifiés (taille, "
        "type lu dans les octets, empreinte annoncée par DS), enregistrés et analysés comme un "
        "dépôt (R-DOC-2) ; un fichier déjà importé n'est pas enregistré deux fois. Vide : "
        "aucune pièce importée.",
    )

    @model_validator(mode="after")
    def _one_kind_per_champ(self) -> MappingIn:
        champs = [entry.champ for entry in self.documents]
        if len(champs) != len(set(champs)):
            raise ValueError("un champ de pièce justificative n'a qu'une nature de pièce")
        return self


class MappingRead(ReadModel):
    number: DsNumber
    departement: str | None = Field(max_length=3)
    programme: str = Field(
        max_length=40, description="Code du programme où la démarche importe ses dossiers."
    )
    fields: ChampFields
    nature: Nature | None
    kinds: list[KindEntry]
    strands: list[StrandEntry]
    expenses: ExpenseFields
    categories: list[CategoryEntry]
    documents: list[DocumentEntry] = Field(
        default_factory=list,
        description="Pièces justificatives importées : champ DS et nature de pièce.",
    )
    version: Version
    updated_at: datetime


Outcome = Literal["created", "updated", "unchanged", "refused", "flagged"]
ReasonCode = Literal[
    "malformed",
    "unmapped_champ",
    "unknown_value",
    "invalid_siret",
    "ineligible_kind",
    "out_of_scope",
    "candidate_refused",
    "decided_on_ds",
    "programme_closed",
    "ineligible",
    "edited_after_decision",
    "edited_after_submission",
    "candidate_changed",
]


class ReasonRead(ReadModel):
    reason: ReasonCode
    code: str = Field(max_length=40, description="Règle (R-…) ou code stable.")
    message: str = Field(max_length=2000)


class AttachmentItem(ReadModel):
    """Un fichier d'une pièce justificative du dossier sur DS, et ce que la synchronisation en
    a fait."""

    champ: str = Field(max_length=200, description="Champ DS de la pièce.")
    kind: str = Field(max_length=40, description="Nature de pièce (R-DOC-1).")
    filename: str | None = Field(max_length=300, description="Nom du fichier sur DS.")
    outcome: Literal["stored", "unchanged", "failed"] = Field(
        description="`stored` : enregistrée (analyse à venir) ; `unchanged` : les mêmes octets "
        "étaient déjà là ; `failed` : non importée, voir `code` et `message`."
    )
    document_id: uuid.UUID | None = Field(
        default=None, description="La pièce du guichet (importée ou déjà là)."
    )
    code: str | None = Field(
        default=None,
        max_length=40,
        description="En échec : DS-ATTACHMENT (téléchargement, empreinte) ou R-DOC-2 (taille, "
        "type).",
    )
    message: str | None = Field(default=None, max_length=2000)


class SyncItem(ReadModel):
    dossier_number: DsNumber | None
    dossier_id: str | None = Field(max_length=100)
    ds_state: str | None = Field(max_length=20)
    outcome: Outcome
    project_id: uuid.UUID | None
    status: str | None = Field(max_length=20, description="Statut du dossier ici.")
    draft: bool = Field(description="Importé en brouillon : non éligible (R-FLOW-2).")
    reasons: list[ReasonRead]
    attachments: list[AttachmentItem] = Field(
        default_factory=list,
        description="Pièces justificatives du dossier sur DS, une par fichier : importée, déjà "
        "là, ou en échec (le dossier est importé quand même ; la synchronisation suivante "
        "réessaie si le dossier a changé sur DS).",
    )


class SyncRunRead(ReadModel):
    id: uuid.UUID
    demarche_number: DsNumber
    departement: str | None = Field(max_length=3)
    actor_role: str = Field(max_length=20)
    updated_since: datetime | None
    high_water: datetime | None
    pages: Count
    fetched: Count
    created: Count
    updated: Count
    unchanged: Count
    refused: Count
    flagged: Count
    drafts: Count
    created_at: datetime


class SyncReport(SyncRunRead):
    items: list[SyncItem]


class SyncRunList(ReadModel):
    items: list[SyncRunRead]
    next_cursor: str | None = Field(max_length=200)


class MutationRead(ReadModel):
    id: DsNumber
    kind: str = Field(max_length=40)
    status: Literal["pending", "delivered", "failed"]
    attempts: Count
    last_error: str | None = Field(max_length=500)
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class ProjectDsRead(ReadModel):
    project_id: uuid.UUID
    demarche_number: DsNumber
    dossier_number: DsNumber
    dossier_id: str = Field(max_length=100)
    ds_state: str = Field(max_length=20, description="État DS connu ou demandé par le guichet.")
    flagged_at: datetime | None
    flag_reason: str | None = Field(max_length=500)
    mutations: list[MutationRead]
