"""Errors of the audit trail."""

from app.core.errors import Forbidden


class AuditForbidden(Forbidden):
    default_detail = "Le journal d'audit est réservé à la DINUM et aux préfets (leur département)."
