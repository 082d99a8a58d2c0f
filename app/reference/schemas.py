"""API shapes of the reference lookup."""

from __future__ import annotations

from pydantic import Field

from app.core.schemas import Count, ReadModel
from app.reference.kinds import OrganisationKind


class CollectiviteRead(ReadModel):
    """Une commune ou un EPCI d'après le découpage administratif embarqué (R-REF-1)."""

    siren: str = Field(max_length=9)
    name: str = Field(max_length=300)
    kind: OrganisationKind
    epci_type: str | None = Field(max_length=10)
    departement: str | None = Field(max_length=3)
    commune_insee: str | None = Field(max_length=5)
    population: Count | None
    source: str = Field(max_length=200, description="Jeu de données et version.")
