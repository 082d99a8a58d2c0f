"""Errors of the programme domain."""

from __future__ import annotations

from app.core.errors import Conflict, NotFound, UnprocessableEntity


class ProgrammeNotSeeded(NotFound):
    slug = "programme-not-found"
    title = "Programme introuvable"
    default_detail = "Le programme n'est pas initialisé : lancez `python -m app seed`."


class InvalidProgramme(UnprocessableEntity):
    slug = "invalid-programme"
    title = "Paramètres de programme incohérents"


class ProgrammeExists(Conflict):
    slug = "programme-exists"
    title = "Programme existant"
    default_detail = "Un programme porte déjà ce code : choisissez-en un autre."


class ProgrammeStateConflict(Conflict):
    """R-PROG-1: the action does not fit the programme's state (draft, published, closed)."""

    slug = "programme-state"
    title = "État du programme incompatible"


class UnknownProgramme(NotFound):
    """R-PROG-2: a request names a programme (`programme=`) the service does not know."""

    slug = "programme-not-found"
    title = "Programme introuvable"

    def __init__(self, code: str) -> None:
        super().__init__(
            f"Le programme « {code} » n'existe pas : voir les programmes du service "
            "(`GET /programmes`).",
            code="R-PROG-2",
        )


class ProgrammeNotOpen(UnprocessableEntity):
    """R-PROG-1: a dossier is filed only under a published programme."""

    slug = "programme-not-open"
    title = "Programme fermé aux dépôts"


class UnknownProgrammeInBody(UnprocessableEntity):
    """R-PROG-2: a request body names (`programme`) a programme the service does not know."""

    slug = "programme-unknown"
    title = "Programme inconnu"
