"""Errors of the candidates domain."""

from __future__ import annotations

from app.core.errors import Conflict, Forbidden, NotFound, UnprocessableEntity


class CandidateNotFound(NotFound):
    slug = "candidate-not-found"
    title = "Candidat introuvable"
    default_detail = "Ce candidat n'existe pas ou n'est pas dans votre périmètre."


class CandidateRefused(UnprocessableEntity):
    slug = "candidate-ineligible"
    title = "Candidat refusé"


class CandidateAlreadyRegistered(Conflict):
    slug = "candidate-already-registered"
    title = "Organisation déjà enregistrée"
    default_detail = "Une organisation de même SIREN est déjà enregistrée (R-ELIG-2)."


class NotYourOrganisation(Forbidden):
    slug = "not-your-organisation"
    title = "Organisation hors de votre périmètre"
