"""GET /auth/me."""

from __future__ import annotations

from fastapi import APIRouter

from app.auth.dependencies import CurrentPrincipal
from app.auth.schemas import MeRead
from app.core import tags
from app.core.errors import problems

router = APIRouter(prefix="/auth", tags=[tags.CONNEXION])


@router.get(
    "/me",
    summary="Qui suis-je ? (rôle et périmètre)",
    response_model=MeRead,
    responses=problems(401),
)
async def read_me(principal: CurrentPrincipal) -> MeRead:
    """Le rôle et le périmètre de l'appelant (R-AUTH-1), et la règle qui l'a donné (R-AUTH-2)."""
    if principal.departement:
        scope = f"département {principal.departement}"
    elif principal.siren:
        scope = f"SIREN {principal.siren}"
    else:
        scope = "national"
    return MeRead(
        subject=principal.subject,
        role=principal.role,
        departement=principal.departement,
        siren=principal.siren,
        scope=scope,
        mapping_rule=principal.mapping_rule,
    )
