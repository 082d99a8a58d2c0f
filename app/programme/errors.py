"""Errors of the programme domain."""

from __future__ import annotations

from app.core.errors import NotFound, UnprocessableEntity


class ProgrammeNotSeeded(NotFound):
    slug = "programme-not-found"
    title = "Programme introuvable"
    default_detail = "Le programme n'est pas initialisé : lancez `python -m app seed`."


class InvalidProgramme(UnprocessableEntity):
    slug = "invalid-programme"
    title = "Paramètres de programme incohérents"
