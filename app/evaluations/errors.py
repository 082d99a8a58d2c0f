"""Errors of the evaluations domain."""

from __future__ import annotations

from app.core.errors import Conflict, Forbidden, NotFound, UnprocessableEntity


class EvaluationNotFound(NotFound):
    slug = "evaluation-not-found"
    title = "Évaluation introuvable"
    default_detail = "Aucune évaluation de ce numéro dans votre périmètre."


class EvaluationForbidden(Forbidden):
    slug = "evaluation-forbidden"
    title = "Évaluation interdite"


class EvaluationConflict(Conflict):
    slug = "evaluation-conflict"
    title = "Évaluation impossible en l'état"


class InvalidEvaluation(UnprocessableEntity):
    slug = "invalid-evaluation"
    title = "Évaluation incomplète ou incohérente"


class GridMissing(Conflict):
    slug = "scoring-grid-missing"
    title = "Grille de notation absente"
    default_detail = "Le programme n'a pas de grille de notation pour ce volet (R-EVAL-1)."
