"""Errors of webhooks."""

from app.core.errors import NotFound, UnprocessableEntity


class SubscriptionNotFound(NotFound):
    default_detail = "Abonnement introuvable."


class TargetRefused(UnprocessableEntity):
    slug = "webhook-target-refused"
    title = "Adresse de webhook refusée"
    default_detail = "L'adresse de réception est refusée (R-HOOK-1)."


class EventNotFound(NotFound):
    default_detail = "Événement introuvable dans le journal d'audit."
