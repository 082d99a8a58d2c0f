"""API shapes of evaluations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictBool

from app.auth.principal import Role
from app.core.pagination import Page
from app.core.schemas import InputModel, JsonInt, ReadModel, Version
from app.evaluations.rules import MAX_SCORE, MIN_SCORE, EvaluationStatus, Recommendation
from app.projects.schemas import ScoreText

Score = Annotated[
    JsonInt,
    Field(ge=MIN_SCORE, le=MAX_SCORE, description="Note du critère, entier de 0 à 5 (R-EVAL-2)."),
]
Scores = Annotated[
    dict[str, Score],
    Field(
        max_length=40,
        description=(
            "Une note par code de critère de la grille en vigueur du volet (critères généraux "
            "et du volet, voir GET /programme `grids`) : aucun manquant, aucun inconnu "
            "(422 R-EVAL-1, un `errors[]` par code, champ `/scores/<code>`)."
        ),
    ),
]
Comments = Annotated[str, Field(max_length=10_000)]


class EvaluationCreate(InputModel):
    """R-EVAL-2 : sans conflit d'intérêts, chaque critère noté et une recommandation ; avec
    conflit d'intérêts, l'évaluateur est enregistré comme déporté, sans notes ni
    recommandation (les envoyer : 422)."""

    conflict_of_interest: StrictBool = Field(
        description="Conflit d'intérêts déclaré : l'évaluateur se déporte (R-EVAL-2)."
    )
    scores: Scores | None = None
    recommendation: Recommendation | None = Field(
        default=None, description="Requise sans conflit d'intérêts, interdite avec."
    )
    comments: Comments | None = None

    # Its examples (the whole grid of a strand) are the contract's: app/contract/example_bodies.


class EvaluationUpdate(InputModel):
    """Modifier son évaluation : les champs envoyés remplacent les anciens (`scores` en entier),
    le résultat obéit aux règles de la création (R-EVAL-2) ; notée sur la grille de sa version
    (R-EVAL-1). Passer en conflit d'intérêts efface notes et recommandation."""

    # `T = Field(default=None)`: may be omitted, never null (see ProgrammeUpdate).
    conflict_of_interest: StrictBool = Field(default=None)  # type: ignore[assignment]
    scores: Scores | None = None
    recommendation: Recommendation | None = None
    comments: Comments | None = None


class ScoreRead(ReadModel):
    code: str = Field(max_length=40, description="Code du critère de la grille.")
    score: Score


class EvaluationRead(ReadModel):
    """Une évaluation (jamais montrée à un candidat, R-EVAL-4)."""

    id: uuid.UUID
    project_id: uuid.UUID
    evaluator: str = Field(max_length=255, description="Sujet de l'évaluateur.")
    evaluator_role: Role
    advisory: StrictBool = Field(
        description="Évaluation consultative de l'ANCT (volets que le programme lui confie), "
        "hors moyenne (R-EVAL-3)."
    )
    recused: StrictBool = Field(
        description="Déport pour conflit d'intérêts (R-EVAL-2), définitif : il ne se change "
        "pas en notes (409)."
    )
    status: EvaluationStatus = Field(
        description="`active`, ou `void` (caduque) quand le dossier, renvoyé, a changé de volet "
        "depuis : lisible, hors de toute moyenne, non modifiable (R-EVAL-5)."
    )
    grid_version: Version = Field(description="Version de la grille notée (R-EVAL-1).")
    scores: list[ScoreRead] | None = Field(
        max_length=40, description="Les notes, dans l'ordre de la grille ; null si déport."
    )
    weighted_total: ScoreText | None = Field(
        description="Σ(poids × note) / Σ poids, deux décimales ; null si déport (R-EVAL-2)."
    )
    recommendation: Recommendation | None
    comments: str | None = Field(max_length=10_000)
    version: Version
    created_at: datetime
    updated_at: datetime


class EvaluationList(Page[EvaluationRead]):
    """Une page d'évaluations d'un dossier, avec le curseur de la suivante."""
