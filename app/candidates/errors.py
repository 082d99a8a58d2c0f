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
    # No département, name or id: a SIREN registered elsewhere must not tell where (R-ACL-1).
    default_detail = "Une organisation de même SIREN est déjà enregistrée (R-ELIG-2)."


class TerritoryAlreadyRepresented(Conflict):
    """R-REF-1: one candidate of kind département per département, of kind région per région."""

    slug = "territory-already-represented"
    title = "Collectivité déjà enregistrée"
    default_detail = "Cette collectivité territoriale a déjà son candidat (R-REF-1)."


class VerificationRefused(UnprocessableEntity):
    """R-REF-2: a verification decision that cannot be recorded."""

    slug = "verification-refused"
    title = "Décision de vérification refusée"


class NotYourOrganisation(Forbidden):
    slug = "not-your-organisation"
    title = "Organisation hors de votre périmètre"
