"""Errors of webhooks."""

from __future__ import annotations

from app.core.errors import NotFound, ProblemItem, UnprocessableEntity


class SubscriptionNotFound(NotFound):
    default_detail = "Abonnement introuvable."


class TargetRefused(UnprocessableEntity):
    slug = "webhook-target-refused"
    title = "Adresse de webhook refusée"
    default_detail = "L'adresse de réception est refusée (R-HOOK-1)."

    @classmethod
    def because(cls, reason: str) -> TargetRefused:
        """R-HOOK-1, naming why (the SSRF guard's reason) on the `url` field."""
        return cls(
            f"L'adresse de réception est refusée (R-HOOK-1) : {reason}",
            code="R-HOOK-1",
            errors=[ProblemItem(code="R-HOOK-1", field="/url", message=reason)],
        )


class EventNotFound(NotFound):
    default_detail = "Événement introuvable dans le journal d'audit."
