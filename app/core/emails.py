"""E-mail addresses in requests (R-NOTIF-1): checked by `email-validator` (syntax only, no DNS
lookup) and normalised. A leaf: candidates and notifications both use it."""

from __future__ import annotations

from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field


def normalised_email(value: str) -> str:
    """An address as `email-validator` accepts it, normalised (the domain lowercased); raises
    ValueError with a French message otherwise."""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        # email-validator explains in English: the client gets the expected form instead.
        raise ValueError(
            "adresse électronique invalide : attendu nom@domaine.fr (un seul @, un domaine "
            "à point, sans espace)"
        ) from exc


EmailAddress = Annotated[
    str,
    Field(
        min_length=3,
        max_length=254,
        description="Adresse électronique (vérifiée par email-validator, sans requête DNS).",
        examples=["dossiers-fitn7@bouches-du-rhone.gouv.fr"],
    ),
    AfterValidator(normalised_email),
]
