"""Errors of the sign-in."""

from __future__ import annotations

from app.core.errors import Forbidden, NotFound, UnprocessableEntity


class SigninRefused(Forbidden):
    """R-AUTH-2: no mapping rule gives a role; the body says which rule, SIRET and whom to ask."""

    slug = "signin-refused"
    title = "Connexion refusée"


class MappingRuleNotFound(NotFound):
    slug = "mapping-rule-not-found"
    title = "Règle introuvable"
    default_detail = "Aucune règle de correspondance avec cet identifiant."


class InvalidSigninCode(UnprocessableEntity):
    slug = "signin-code-invalid"
    title = "Code de connexion invalide"
    default_detail = "Code de connexion inconnu, expiré ou déjà utilisé."


class ProConnectNotConfigured(NotFound):
    """Off unless configured (as /metrics in production): 404, not a server error."""

    slug = "proconnect-not-configured"
    title = "ProConnect non configuré"
    default_detail = "La connexion ProConnect n'est pas configurée sur ce service."


class LoginStateUnknown(UnprocessableEntity):
    slug = "signin-state-invalid"
    title = "Connexion expirée"
    default_detail = "Cette connexion ProConnect est inconnue, expirée ou déjà terminée."


class LoginFromAnotherBrowser(Forbidden):
    """R-AUTH-2 (RFC 6749 §10.12): the callback comes without this login's browser cookie."""

    slug = "signin-browser-mismatch"
    title = "Connexion commencée dans un autre navigateur"
    default_detail = (
        "Cette connexion ProConnect n'a pas été commencée dans ce navigateur (cookie de "
        "connexion absent ou différent) : recommencez la connexion depuis ce navigateur."
    )
