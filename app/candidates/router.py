"""/candidates."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.auth.dependencies import require_roles
from app.auth.principal import Principal, Role
from app.candidates import service as candidates_service
from app.candidates.rules import Verification
from app.candidates.schemas import (
    CandidateCreate,
    CandidateList,
    CandidateRead,
    CandidateUpdate,
    VerificationDecision,
)
from app.core import tags
from app.core.concurrency import ETAG, IfMatchHeader, etag_for
from app.core.db import SessionDep
from app.core.errors import problems
from app.core.filters import UpdatedSince
from app.core.location import set_location
from app.core.pagination import CursorFormat, PageParams, page_params_for
from app.reference.departements import DepartementQuery
from app.reference.kinds import OrganisationKind

router = APIRouter(prefix="/candidates", tags=[tags.CANDIDATS])
CANDIDATES_CURSOR = CursorFormat("candidates")

Readers = Annotated[
    Principal, Depends(require_roles(Role.CANDIDATE, Role.PREFECT, Role.DINUM, Role.ANCT))
]


@router.post(
    "",
    summary="Enregistrer une organisation candidate",
    status_code=201,
    response_model=CandidateRead,
    responses={201: {"headers": ETAG}, **problems(401, 403, 404, 409, 413)},
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
    celles de son département (404 pour un autre, R-ACL-1) ; la DINUM, toutes. Un SIREN déjà
    enregistré répond 409 (R-ELIG-2), comme un département ou une région qui a déjà son
    candidat (R-REF-1). Communes et EPCI du référentiel sont `verified` d'emblée ; les autres
    catégories `to_verify` jusqu'à la décision du préfet (R-REF-2).
    """
    candidate = await candidates_service.register_candidate(session, principal, data=data)
    response.headers["ETag"] = etag_for(candidate.version)
    set_location(response, f"/candidates/{candidate.id}")
    return candidates_service.to_read(candidate, with_contact=principal.role is Role.CANDIDATE)


@router.get(
    "", summary="Lister les candidats", response_model=CandidateList, responses=problems(401, 403)
)
async def list_candidates(
    session: SessionDep,
    principal: Readers,
    page: Annotated[PageParams, Depends(page_params_for(CANDIDATES_CURSOR))],
    departement: DepartementQuery = None,
    kind: Annotated[OrganisationKind | None, Query()] = None,
    verification: Annotated[
        Verification | None, Query(description="État de vérification de l'identité (R-REF-2).")
    ] = None,
    updated_since: UpdatedSince = None,
) -> CandidateList:
    """Lister les candidats de votre périmètre (pagination par curseur).

    Règles : R-ACL-1 (périmètre), R-SYNC-1 (`updated_since`).
    """
    rows, next_cursor = await candidates_service.list_candidates(
        session,
        principal,
        filters=candidates_service.CandidateFilters(
            departement=departement,
            kind=kind,
            verification=verification,
            updated_since=updated_since,
        ),
        page=page,
    )
    return CandidateList(
        items=[candidates_service.to_read(c) for c in rows], next_cursor=next_cursor
    )


@router.get(
    "/{candidate_id}",
    summary="Lire un candidat",
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
    return candidates_service.to_read(candidate, with_contact=principal.role is Role.CANDIDATE)


@router.patch(
    "/{candidate_id}",
    summary="Modifier sa fiche d'organisation",
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
    return candidates_service.to_read(candidate, with_contact=True)


@router.post(
    "/{candidate_id}/verify",
    summary="Vérifier l'identité d'un candidat",
    response_model=CandidateRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404, 412, 413, 428)},
)
async def verify_candidate(
    candidate_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require_roles(Role.PREFECT))],
    data: VerificationDecision,
    if_match: IfMatchHeader = None,
) -> CandidateRead:
    """Vérifier ou refuser l'identité d'un candidat (préfet de son département, R-REF-2).

    Pour les catégories que le référentiel ne confirme pas (département, région, collectivité
    d'outre-mer, syndicat, personne morale), après examen des pièces. Un refus est motivé
    (`reason`). Avec If-Match (R-FLOW-3). Tant qu'un candidat n'est pas `verified`, aucun de
    ses dossiers ne peut être accepté ; il peut toujours en déposer.
    """
    candidate = await candidates_service.decide_verification(
        session, principal, candidate_id=candidate_id, if_match=if_match, data=data
    )
    response.headers["ETag"] = etag_for(candidate.version)
    return candidates_service.to_read(candidate)
