"""Errors of the démarches-simplifiées integration."""

from typing import ClassVar

from app.core.errors import AppError, Forbidden, NotFound


class DemarcheNotFound(NotFound):
    default_detail = "Démarche introuvable ou sans correspondance configurée."


class DemarcheForbidden(Forbidden):
    default_detail = "Cette démarche est nationale : seule la DINUM en modifie la correspondance."


class DsFailed(AppError):
    """DS answered with an error, or not at all: the sync stops, nothing is written."""

    status: ClassVar[int] = 502
    slug: ClassVar[str] = "ds-failed"
    title: ClassVar[str] = "Échec de démarches-simplifiées"
    default_detail = "démarches-simplifiées a répondu par une erreur : rien n'a été importé."


class DsNotConfigured(AppError):
    status: ClassVar[int] = 409
    slug: ClassVar[str] = "ds-not-configured"
    title: ClassVar[str] = "démarches-simplifiées non configuré"
    default_detail = "Le jeton de l'API démarches-simplifiées n'est pas configuré."
