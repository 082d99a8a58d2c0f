"""GET/PATCH /programme."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from app.auth.dependencies import require_roles
from app.auth.principal import Principal, Role
from app.core.concurrency import ETAG, IfMatchHeader, etag_for
from app.core.db import SessionDep
from app.core.errors import problems
from app.programme import service as programme_service
from app.programme.models import Programme
from app.programme.schemas import ProgrammeRead, ProgrammeUpdate, ScoringGridRead

router = APIRouter(prefix="/programme", tags=["programme"])


async def _read(session: SessionDep, programme: Programme) -> ProgrammeRead:
    grids = await programme_service.current_grids(session, programme.id)
    return ProgrammeRead.model_validate(
        {
            **{n: getattr(programme, n) for n in ProgrammeRead.model_fields if n != "grids"},
            "grids": [ScoringGridRead.model_validate(grid) for grid in grids],
        }
    )


@router.get(
    "",
    summary="Lire le programme",
    response_model=ProgrammeRead,
    responses={200: {"headers": ETAG}, **problems(404)},
)
async def read_programme(
    request: Request, response: Response, session: SessionDep
) -> ProgrammeRead:
    """Le programme FITN7 axe 3 : dates, plafonds, volets, critères, grilles de notation
    versionnées (R-EVAL-1), forfaits (public)."""
    programme = await programme_service.get_programme(
        session, request.app.state.settings.programme_code
    )
    response.headers["ETag"] = etag_for(programme.version)
    return await _read(session, programme)


@router.patch(
    "",
    summary="Modifier le programme",
    response_model=ProgrammeRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404, 412, 428)},
)
async def update_programme(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require_roles(Role.DINUM))],
    data: ProgrammeUpdate,
    if_match: IfMatchHeader = None,
) -> ProgrammeRead:
    """Modifier le programme (DINUM seulement, avec If-Match) ; modifier les critères ou leurs
    poids crée une nouvelle version de la grille des volets concernés (R-EVAL-1)."""
    programme = await programme_service.update_programme(
        session,
        principal,
        code=request.app.state.settings.programme_code,
        if_match=if_match,
        data=data,
    )
    response.headers["ETag"] = etag_for(programme.version)
    return await _read(session, programme)
