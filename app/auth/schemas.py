"""API shapes of the auth domain."""

from __future__ import annotations

from pydantic import Field

from app.auth.principal import Role
from app.core.schemas import ReadModel


class MeRead(ReadModel):
    """Qui est l'appelant, d'après son jeton."""

    subject: str = Field(max_length=255)
    role: Role
    departement: str | None = Field(default=None, max_length=3)
    siren: str | None = Field(default=None, max_length=9)
    scope: str = Field(
        max_length=200, description="Périmètre lisible : national, département, SIREN."
    )
    mapping_rule: str | None = Field(
        default=None,
        max_length=100,
        description=(
            "R-AUTH-2 : la règle de correspondance qui a donné ce rôle (jeton échangé contre "
            "un jeton ProConnect) ; absent pour un jeton de développement."
        ),
    )
