"""API shapes of the reference lookup."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from app.core.schemas import Count, ReadModel
from app.reference.kinds import OrganisationKind


class CollectiviteRead(ReadModel):
    """Une commune ou un EPCI d'après le découpage administratif embarqué (R-REF-1)."""

    siren: str = Field(max_length=9)
    name: str = Field(max_length=300)
    kind: OrganisationKind
    epci_type: str | None = Field(max_length=10)
    departement: str | None = Field(
        max_length=3,
        description="Département de la commune, ou du siège de l'EPCI (null : inconnu).",
    )
    departements: list[Annotated[str, Field(max_length=3)]] = Field(
        max_length=120,
        description="Départements où elle peut s'enregistrer : ceux de ses communes membres "
        "pour un EPCI (R-REF-1).",
    )
    commune_insee: str | None = Field(max_length=5)
    population: Count | None
    source: str = Field(max_length=200, description="Jeu de données et version.")
