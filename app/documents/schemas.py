"""Document API models (R-DOC-1..3)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.core.pagination import Page
from app.core.schemas import Count, ReadModel
from app.documents.rules import ScanStatus
from app.programme.rules import Step


class DocumentRead(ReadModel):
    """Les métadonnées d'un document ; son contenu se lit par `GET /documents/{id}/content`."""

    id: uuid.UUID = Field(description="Identifiant du document.")
    project_id: uuid.UUID | None = Field(default=None, description="Dossier du document.")
    candidate_id: uuid.UUID | None = Field(
        default=None, description="Candidat du document (son attestation)."
    )
    expense_line_id: uuid.UUID | None = Field(
        default=None, description="Ligne de dépense d'un devis."
    )
    kind: str = Field(
        pattern=r"^[a-z0-9_]{1,40}$",
        description="Nature de la pièce (R-DOC-1) : un `code` des pièces du programme.",
        examples=["deliberation"],
    )
    filename: str = Field(
        max_length=200, description="Nom du fichier envoyé, nettoyé (jamais un chemin)."
    )
    content_type: str = Field(
        max_length=120, description="Type lu dans le contenu du fichier (R-DOC-2)."
    )
    size_bytes: Count = Field(description="Taille en octets.")
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="Empreinte SHA-256 du contenu.",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    )
    scan_status: ScanStatus = Field(
        description="Analyse antivirus (R-DOC-2) : `pending` en cours, `clean` sain, "
        "`infected` en quarantaine (jamais servi), `unscanned` sans antivirus (hors "
        "production seulement)."
    )
    uploaded_by: str = Field(max_length=255, description="Identifiant de qui l'a déposé.")
    uploaded_role: str = Field(
        max_length=20, description="Rôle de qui l'a déposé (`candidate`, `prefect`)."
    )
    created_at: datetime = Field(description="Date du dépôt.")
    superseded_at: datetime | None = Field(
        default=None,
        description="Remplacé par un dépôt plus récent de la même nature (conservé, R-DOC-2).",
    )
    superseded_by: uuid.UUID | None = Field(
        default=None, description="Le document qui l'a remplacé."
    )


class AllowedUpload(ReadModel):
    """Une pièce que l'appelant peut déposer maintenant (R-DOC-1, R-DOC-2)."""

    kind: str = Field(pattern=r"^[a-z0-9_]{1,40}$", description="À donner en `kind` au dépôt.")
    label: str = Field(max_length=300)
    step: Step = Field(description="L'étape qui l'exige.")
    expense_line_ids: list[uuid.UUID] | None = Field(
        max_length=200,
        description="Pour une pièce par ligne (un devis) : les lignes qui en demandent une, à "
        "donner en `expense_line_id` ; null pour une pièce unique.",
    )
    allowed_types: list[Annotated[str, Field(max_length=120)]] = Field(
        max_length=20, description="Types acceptés (R-DOC-2)."
    )
    max_bytes: Count = Field(description="Taille maximale en octets (R-DOC-2).")


class DocumentList(Page[DocumentRead]):
    """Les documents, versions remplacées comprises, du plus ancien au plus récent."""

    allowed_uploads: list[AllowedUpload] = Field(
        max_length=30,
        description="Ce que l'appelant peut déposer maintenant sur ce dossier ou ce candidat, "
        "selon les pièces du programme et l'état du dossier (vide : rien).",
    )
