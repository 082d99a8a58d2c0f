"""Errors of the budgets domain."""

from __future__ import annotations

from app.core.errors import Conflict, NotFound


class EnvelopeNotFound(NotFound):
    slug = "envelope-not-found"
    title = "Enveloppe introuvable"
    default_detail = "Aucune enveloppe pour ce département dans votre périmètre."


class EnvelopeExhausted(Conflict):
    """R-CAP-4: the envelope cannot cover the movement."""

    slug = "envelope-exhausted"
    title = "Enveloppe insuffisante"


class GrantNotFound(NotFound):
    slug = "grant-not-found"
    title = "Subvention introuvable"
    default_detail = "Ce dossier n'a pas de subvention accordée."


class GrantRefused(Conflict):
    slug = "grant-refused"
    title = "Subvention refusée"


class PaymentRefused(Conflict):
    slug = "payment-refused"
    title = "Paiement refusé"


class ConventionRefused(Conflict):
    slug = "convention-refused"
    title = "Convention refusée"
