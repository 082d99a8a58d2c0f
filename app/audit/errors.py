"""Errors of the audit trail."""

from app.core.errors import Forbidden, UnprocessableEntity


class AuditForbidden(Forbidden):
    default_detail = "Le journal d'audit est réservé à la DINUM et aux préfets (leur département)."


class CheckpointInvalid(UnprocessableEntity):
    """R-AUDIT-1: what was given as a checkpoint is not one signed by this service."""

    slug = "audit-checkpoint-invalid"
    title = "Point de contrôle invalide"
    default_detail = "Le point de contrôle n'est pas un JWS signé par ce service."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, code="R-AUDIT-1")
