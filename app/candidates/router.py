"""/candidates."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.auth.dependencies import require_roles
from app.auth.principal import Principal, Role
from app.candidates import service as candidates_service
from app.candidates.schemas import (
    CandidateCreate,
    CandidateList,
    CandidateRead,
    CandidateUpdate,
)
from app.core.concurrency import ETAG, IfMatchHeader, etag_for
from app.core.db import SessionDep
from app.core.errors import problems
from app.core.filters import UpdatedSince
from app.core.pagination import CursorFormat, PageParams, page_params_for
from app.reference.departements import DepartementQuery
from app.reference.kinds import OrganisationKind

router = APIRouter(prefix="/candidates", tags=["candidates"])
CANDIDATES_CURSOR = CursorFormat("candidates")

Readers = Annotated[
    Principal, Depends(require_roles(Role.CANDIDATE, Role.PREFECT, Role.DINUM, Role.ANCT))
]


@router.post(
    "",
    status_code=201,
    response_model=CandidateRead,
    responses={201: {"headers": ETAG}, **problems(401, 403, 409, 413)},
)
async def create_candidate(
    response: Response,
    session: SessionDep,
    principal: Annotated[
        Principal, Depends(require_roles(Role.CANDIDATE, Role.PREFECT, Role.DINUM))
    ],
    data: CandidateCreate,
) -> CandidateRead:
    """Enregistrer une organisation candidate (R-ELIG-1, R-ELIG-2, R-REF-1).

    Un agent candidat n'enregistre que l'organisation de son jeton (`siren`) ; un préfet,
    celles de son département ; la DINUM, toutes.
    """
    candidate = await candidates_service.register_candidate(session, principal, data=data)
    response.headers["ETag"] = etag_for(candidate.version)
    return candidates_service.to_read(candidate)


@router.get("", response_model=CandidateList, responses=problems(401, 403))
async def list_candidates(
    session: SessionDep,
    principal: Readers,
    page: Annotated[PageParams, Depends(page_params_for(CANDIDATES_CURSOR))],
    departement: DepartementQuery = None,
    kind: Annotated[OrganisationKind | None, Query()] = None,
    updated_since: UpdatedSince = None,
) -> CandidateList:
    """Lister les candidats de votre périmètre (pagination par curseur)."""
    rows, next_cursor = await candidates_service.list_candidates(
        session,
        principal,
        filters=candidates_service.CandidateFilters(
            departement=departement, kind=kind, updated_since=updated_since
        ),
        page=page,
    )
    return CandidateList(
        items=[candidates_service.to_read(c) for c in rows], next_cursor=next_cursor
    )


@router.get(
    "/{candidate_id}",
    response_model=CandidateRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404)},
)
async def read_candidate(
    candidate_id: uuid.UUID, response: Response, session: SessionDep, principal: Readers
) -> CandidateRead:
    """Lire un candidat de votre périmètre (404 hors périmètre, R-ACL-1)."""
    candidate = await candidates_service.get_candidate(
        session, principal, candidate_id=candidate_id
    )
    response.headers["ETag"] = etag_for(candidate.version)
    return candidates_service.to_read(candidate)


@router.patch(
    "/{candidate_id}",
    response_model=CandidateRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404, 412, 413, 428)},
)
async def update_candidate(
    candidate_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require_roles(Role.CANDIDATE))],
    data: CandidateUpdate,
    if_match: IfMatchHeader = None,
) -> CandidateRead:
    """Modifier sa propre organisation (agent candidat, avec If-Match, R-FLOW-3)."""
    candidate = await candidates_service.update_candidate(
        session, principal, candidate_id=candidate_id, if_match=if_match, data=data
    )
    response.headers["ETag"] = etag_for(candidate.version)
    return candidates_service.to_read(candidate)
