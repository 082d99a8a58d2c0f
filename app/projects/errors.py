"""Errors of the projects domain."""

from __future__ import annotations

from app.core.errors import Conflict, Forbidden, NotFound, UnprocessableEntity


class ProjectNotFound(NotFound):
    slug = "project-not-found"
    title = "Dossier introuvable"
    default_detail = "Ce dossier n'existe pas ou n'est pas dans votre périmètre."


class InvalidTransition(Conflict):
    slug = "invalid-transition"
    title = "Transition interdite"


class ProjectNotEditable(Conflict):
    slug = "project-not-editable"
    title = "Dossier non modifiable"
    default_detail = "Seuls les dossiers en brouillon peuvent être modifiés (R-FLOW-3)."


class ProjectIneligible(UnprocessableEntity):
    slug = "project-ineligible"
    title = "Dossier inéligible"


class CandidateNotRegistered(Conflict):
    slug = "candidate-not-registered"
    title = "Organisation non enregistrée"
    default_detail = "Votre organisation doit d'abord être enregistrée (POST /api/v1/candidates)."


class NotYourProject(Forbidden):
    slug = "not-your-project"
    title = "Action réservée au porteur du dossier"


class OutsideProgramme(UnprocessableEntity):
    """R-PROG-1, R-ELIG-1: a dossier names what its programme does not have (a strand, an
    expense category) or is filed by a kind of organisation the programme does not fund."""

    slug = "outside-programme"
    title = "Hors du programme"
