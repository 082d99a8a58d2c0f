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


class ProgrammeUnknown(NotFound):
    slug = "programme-not-found"
    title = "Programme introuvable"
    default_detail = "Aucun programme ne porte ce code (ou il n'est pas encore publié)."


class ProgrammeExists(Conflict):
    slug = "programme-exists"
    title = "Programme existant"
    default_detail = "Un programme porte déjà ce code : choisissez-en un autre."


class ProgrammeStateConflict(Conflict):
    """R-PROG-1: the action does not fit the programme's state (draft, published, closed)."""

    slug = "programme-state"
    title = "État du programme incompatible"


class ProgrammeNotOpen(Conflict):
    """R-PROG-1: a draft or closed programme takes no dossier."""

    slug = "programme-not-open"
    title = "Programme fermé aux dossiers"
