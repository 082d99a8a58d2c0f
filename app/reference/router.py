"""GET /reference/collectivites/{siren}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from app.auth.dependencies import require_roles
from app.auth.principal import Principal, Role
from app.core import tags
from app.core.errors import NotFound, problems
from app.reference.catalogue import get_catalogue
from app.reference.kinds import OrganisationKind
from app.reference.schemas import CollectiviteRead

router = APIRouter(prefix="/reference", tags=[tags.REFERENTIEL])


class CollectiviteNotFound(NotFound):
    slug = "collectivite-not-found"
    title = "Collectivité inconnue"
    default_detail = "Aucune commune ni aucun EPCI de ce SIREN dans le référentiel (R-REF-1)."


@router.get(
    "/collectivites/{siren}",
    summary="Identifier une collectivité par son SIREN",
    response_model=CollectiviteRead,
    responses=problems(401, 403, 404),
)
async def read_collectivite(
    siren: Annotated[str, Path(pattern=r"^[0-9]{9}$", description="SIREN (9 chiffres).")],
    _principal: Annotated[
        Principal, Depends(require_roles(Role.CANDIDATE, Role.PREFECT, Role.DINUM, Role.ANCT))
    ],
) -> CollectiviteRead:
    """Identité d'une commune ou d'un EPCI d'après le découpage administratif (R-REF-1)."""
    catalogue = get_catalogue()
    entry = catalogue.by_siren(siren)
    if entry is None:
        raise CollectiviteNotFound(code="R-REF-1")
    source = catalogue.source
    return CollectiviteRead(
        siren=entry.siren,
        name=entry.name,
        kind=OrganisationKind.COMMUNE if entry.kind == "commune" else OrganisationKind.EPCI,
        epci_type=entry.epci_type,
        departement=entry.departement,
        departements=list(entry.departements),
        commune_insee=entry.insee_code,
        population=entry.population,
        source=f"{source['package']} {source['version']} ({source['licence']})",
    )
