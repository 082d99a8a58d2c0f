"""/programme (the default programme, as before) and /programmes (every programme, their
document, lifecycle and versions: R-PROG-1, R-PROG-2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from app.auth.dependencies import CurrentPrincipal, require_roles
from app.auth.principal import Principal, Role
from app.core import tags
from app.core.concurrency import ETAG, IfMatchHeader, etag_for
from app.core.db import SessionDep
from app.core.errors import problems
from app.core.location import set_location
from app.programme import lifecycle, service as programme_service
from app.programme.dependencies import OptionalPrincipal
from app.programme.models import Programme
from app.programme.preview import ProgrammePreviewIn, ProgrammePreviewRead, preview
from app.programme.schemas import (
    ProgrammeDocument,
    ProgrammeDocumentRead,
    ProgrammeList,
    ProgrammeRead,
    ProgrammeSummary,
    ProgrammeUpdate,
    ProgrammeVersionList,
    ProgrammeVersionRead,
    ScoringGridRead,
)

router = APIRouter(tags=[tags.PROGRAMMES])

Dinum = Annotated[Principal, Depends(require_roles(Role.DINUM))]
CodePath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Z0-9][A-Z0-9_-]*$",
        description="Code du programme (voir `GET /programmes`).",
    ),
]


async def _read(session: SessionDep, programme: Programme) -> ProgrammeRead:
    grids = await programme_service.current_grids(session, programme.id)
    return ProgrammeRead.model_validate(
        {
            **{n: getattr(programme, n) for n in ProgrammeRead.model_fields if n != "grids"},
            "grids": [ScoringGridRead.model_validate(grid) for grid in grids],
        }
    )


async def _answer(session: SessionDep, response: Response, programme: Programme) -> ProgrammeRead:
    response.headers["ETag"] = etag_for(programme.version)
    return await _read(session, programme)


@router.get(
    "/programme",
    summary="Lire le programme",
    response_model=ProgrammeRead,
    responses={200: {"headers": ETAG}, **problems(404)},
)
async def read_programme(
    request: Request, response: Response, session: SessionDep
) -> ProgrammeRead:
    """Le programme par défaut du service (réglage `programme_code`) : dates,
    plafonds, volets, critères, grilles de notation versionnées (R-EVAL-1), forfaits (public).
    Chaque programme se lit aussi par `GET /programmes/{code}`."""
    programme = await programme_service.get_programme(
        session, request.app.state.settings.programme_code
    )
    return await _answer(session, response, programme)


@router.patch(
    "/programme",
    summary="Modifier le programme",
    response_model=ProgrammeRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404, 409, 412, 422, 428)},
)
async def update_programme(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: Dinum,
    data: ProgrammeUpdate,
    if_match: IfMatchHeader = None,
) -> ProgrammeRead:
    """Modifier le programme par défaut (DINUM, If-Match), comme `PATCH /programmes/{code}` ;
    l'erreur 422 porte le code de la première règle enfreinte."""
    programme = await lifecycle.update_programme(
        session,
        principal,
        code=request.app.state.settings.programme_code,
        if_match=if_match,
        data=data,
        answer_code=None,
    )
    return await _answer(session, response, programme)


@router.get("/programmes", summary="Lister les programmes", response_model=ProgrammeList)
async def list_programmes(session: SessionDep, principal: OptionalPrincipal) -> ProgrammeList:
    """Les programmes publiés et clos (public) ; les brouillons aussi pour la DINUM
    (R-PROG-1)."""
    found = await lifecycle.list_programmes(session, principal)
    return ProgrammeList(items=[ProgrammeSummary.model_validate(p) for p in found])


@router.post(
    "/programmes",
    status_code=201,
    summary="Rédiger un programme",
    response_model=ProgrammeRead,
    responses={201: {"headers": ETAG}, **problems(401, 403, 409, 422)},
)
async def create_programme(
    response: Response, session: SessionDep, principal: Dinum, data: ProgrammeDocument
) -> ProgrammeRead:
    """La DINUM rédige un programme, en brouillon (R-PROG-1) : le document est vérifié en
    entier, chaque incohérence listée (422 R-PROG-1) ; son code est unique (409)."""
    programme = await lifecycle.create_programme(session, principal, data=data)
    set_location(response, f"/programmes/{programme.code}")
    return await _answer(session, response, programme)


@router.get(
    "/programmes/{code}",
    summary="Lire un programme",
    response_model=ProgrammeRead,
    responses={200: {"headers": ETAG}, **problems(401, 404)},
)
async def read_programme_by_code(
    response: Response, session: SessionDep, principal: OptionalPrincipal, code: CodePath
) -> ProgrammeRead:
    """Un programme publié ou clos (public) ; un brouillon, pour la DINUM seulement (404
    sinon)."""
    programme = await lifecycle.visible_programme(session, principal, code)
    return await _answer(session, response, programme)


@router.patch(
    "/programmes/{code}",
    summary="Modifier un programme",
    response_model=ProgrammeRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404, 409, 412, 422, 428)},
)
async def edit_programme(
    response: Response,
    session: SessionDep,
    principal: Dinum,
    code: CodePath,
    data: ProgrammeUpdate,
    if_match: IfMatchHeader = None,
) -> ProgrammeRead:
    """La DINUM modifie un programme (If-Match) : un brouillon, librement ; un programme
    publié, par une nouvelle version qui garde ses volets (R-PROG-2) et que
    `GET /programmes/{code}/versions` liste ; un programme clos ne change plus (409). Le
    document qui en résulte est vérifié en entier (422 R-PROG-1)."""
    programme = await lifecycle.update_programme(
        session, principal, code=code, if_match=if_match, data=data
    )
    return await _answer(session, response, programme)


@router.post(
    "/programmes/{code}/preview",
    summary="Simuler un dossier",
    response_model=ProgrammePreviewRead,
    responses=problems(401, 404),
)
async def preview_programme(
    session: SessionDep, principal: CurrentPrincipal, code: CodePath, data: ProgrammePreviewIn
) -> ProgrammePreviewRead:
    """Le rapport d'éligibilité qu'un dossier type recevrait de ce programme tel qu'il est
    (un brouillon : DINUM seulement), sans rien enregistrer (R-PROG-1)."""
    return await preview(session, principal, code=code, data=data)


@router.post(
    "/programmes/{code}/publish",
    summary="Publier un programme",
    response_model=ProgrammeRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404, 409, 412, 422, 428)},
)
async def publish_programme(
    response: Response,
    session: SessionDep,
    principal: Dinum,
    code: CodePath,
    if_match: IfMatchHeader = None,
) -> ProgrammeRead:
    """Un brouillon est publié (409 sinon) : son document est vérifié à nouveau (422), ses
    grilles de notation créées (R-EVAL-1), sa version gardée (R-PROG-2)."""
    programme = await lifecycle.publish_programme(session, principal, code=code, if_match=if_match)
    return await _answer(session, response, programme)


@router.post(
    "/programmes/{code}/close",
    summary="Clore un programme",
    response_model=ProgrammeRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404, 409, 412, 428)},
)
async def close_programme(
    response: Response,
    session: SessionDep,
    principal: Dinum,
    code: CodePath,
    if_match: IfMatchHeader = None,
) -> ProgrammeRead:
    """Un programme publié est clos (409 sinon) : il reste lisible, ne reçoit plus de
    dossier ni de dépôt (R-PROG-1)."""
    programme = await lifecycle.close_programme(session, principal, code=code, if_match=if_match)
    return await _answer(session, response, programme)


@router.get(
    "/programmes/{code}/versions",
    summary="Versions publiées d'un programme",
    response_model=ProgrammeVersionList,
    responses=problems(401, 404),
)
async def list_programme_versions(
    session: SessionDep, principal: OptionalPrincipal, code: CodePath
) -> ProgrammeVersionList:
    """R-PROG-2 : chaque version publiée, son document tel que publié ; une subvention garde
    celle de sa décision (R-PAY-4)."""
    found = await lifecycle.versions(session, principal, code=code)
    return ProgrammeVersionList(
        items=[
            ProgrammeVersionRead(
                version=v.version,
                document=ProgrammeDocumentRead.model_validate(v.document),
                created_at=v.created_at,
            )
            for v in found
        ]
    )
