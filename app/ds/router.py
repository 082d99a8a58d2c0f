"""/ds: démarches-simplifiées mapping, sync and runs; /projects/{id}/ds: a dossier's DS side
(issue 14)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from app.auth.dependencies import require_roles
from app.auth.principal import Principal, Role
from app.core import tags
from app.core.concurrency import ETAG, IfMatchHeader, etag_for
from app.core.db import SessionDep
from app.core.errors import problems
from app.core.filters import UpdatedSince
from app.core.pagination import CursorFormat, PageParams, page_params_for
from app.documents.router import storage_of
from app.ds import (
    mappings as ds_mappings,
    sync as ds_sync,
    write_back as ds_write_back,
)
from app.ds.models import DsDemarche, DsMutation, DsSyncRun
from app.ds.schemas import (
    MappingIn,
    MappingRead,
    MutationRead,
    ProjectDsRead,
    SyncItem,
    SyncReport,
    SyncRunList,
    SyncRunRead,
)
from app.programme.dependencies import default_code

router = APIRouter(prefix="/ds", tags=[tags.DEMARCHES_SIMPLIFIEES])
project_router = APIRouter(prefix="/projects", tags=[tags.DEMARCHES_SIMPLIFIEES])

SYNCS_CURSOR = CursorFormat("dssyncs")
Operators = Annotated[Principal, Depends(require_roles(Role.DINUM, Role.PREFECT))]
StateRoles = Annotated[Principal, Depends(require_roles(Role.DINUM, Role.PREFECT, Role.ANCT))]
DemarcheNumber = Annotated[
    int, Path(ge=1, le=2_147_483_647, description="Numéro de la démarche sur DS.")
]


def _mapping_read(demarche: DsDemarche, request: Request, response: Response) -> MappingRead:
    response.headers["ETag"] = etag_for(demarche.version)
    view = ds_mappings.mapping_view(demarche, default_code(request))
    return MappingRead.model_validate(view)


@router.get(
    "/demarches/{number}/mapping",
    summary="Lire la correspondance d'une démarche",
    response_model=MappingRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404)},
)
async def get_ds_mapping(
    number: DemarcheNumber,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: Operators,
) -> MappingRead:
    """La correspondance des champs DS d'une démarche vers les dossiers du guichet (DINUM ;
    un préfet : les démarches nationales et celles de son département)."""
    demarche = await ds_mappings.get_demarche(session, principal, number=number)
    return _mapping_read(demarche, request, response)


@router.put(
    "/demarches/{number}/mapping",
    summary="Remplacer la correspondance d'une démarche",
    response_model=MappingRead,
    responses={
        200: {"headers": ETAG},
        201: {"model": MappingRead, "headers": ETAG, "description": "Correspondance créée."},
        **problems(401, 403, 404, 412, 413, 422, 428),
    },
)
async def put_ds_mapping(
    number: DemarcheNumber,
    data: MappingIn,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: Operators,
    if_match: IfMatchHeader = None,
) -> MappingRead:
    """Créer ou remplacer la correspondance, toujours avec If-Match (R-FLOW-3) : l'ETag lu
    pour la remplacer, `"v0"` pour la créer (aucune correspondance encore). Une correspondance
    modifiée relit tous les dossiers de la démarche à la synchronisation suivante."""
    demarche, created = await ds_mappings.put_mapping(
        session,
        principal,
        number=number,
        data=data,
        if_match=if_match,
        default_programme=default_code(request),
    )
    if created:
        response.status_code = 201
    return _mapping_read(demarche, request, response)


def _run_read(run: DsSyncRun) -> SyncRunRead:
    return SyncRunRead.model_validate(run, from_attributes=True)


@router.post(
    "/demarches/{number}/sync",
    summary="Synchroniser une démarche de démarches-simplifiées",
    response_model=SyncReport,
    responses=problems(401, 403, 404, 409, 502),
)
async def sync_demarche(
    number: DemarcheNumber, request: Request, session: SessionDep, principal: Operators
) -> SyncReport:
    """Importer les dossiers nouveaux ou modifiés sur DS depuis la dernière synchronisation
    (DINUM ; un préfet : les dossiers de son département). Un dossier non éligible est
    importé en brouillon avec ses règles en échec (R-FLOW-2), déposé à une synchronisation
    suivante une fois corrigé sur DS. Une erreur de DS : 502, rien n'est écrit. Les pièces
    justificatives que la correspondance nomme sont téléchargées et enregistrées comme un
    dépôt (R-DOC-2) ; l'échec d'une pièce est dit dans `attachments`, sans perdre le dossier."""
    run, items = await ds_sync.sync(
        session,
        principal,
        number=number,
        settings=request.app.state.settings,
        storage=storage_of(request.app.state),
    )
    return SyncReport(
        **_run_read(run).model_dump(),
        items=[SyncItem.model_validate(item.as_dict()) for item in items],
    )


@router.get(
    "/syncs",
    summary="Lister les synchronisations",
    response_model=SyncRunList,
    responses=problems(401, 403),
)
async def list_ds_syncs(
    session: SessionDep,
    principal: Operators,
    page: Annotated[PageParams, Depends(page_params_for(SYNCS_CURSOR))],
    updated_since: UpdatedSince = None,
    demarche_number: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> SyncRunList:
    """Les synchronisations et leurs comptes (un préfet : celles de son département)."""
    runs, next_cursor = await ds_sync.list_syncs(
        session,
        principal,
        page=page,
        demarche_number=demarche_number,
        updated_since=updated_since,
    )
    return SyncRunList(items=[_run_read(r) for r in runs], next_cursor=next_cursor)


def _mutation_read(mutation: DsMutation) -> MutationRead:
    return MutationRead(
        id=mutation.id or 0,
        kind=mutation.kind,
        status=mutation.status,
        attempts=mutation.attempts,
        last_error=mutation.last_error,
        next_attempt_at=mutation.next_attempt_at if mutation.status == "pending" else None,
        delivered_at=mutation.delivered_at,
        created_at=mutation.created_at,
    )


@project_router.get(
    "/{project_id}/ds",
    summary="Suivi démarches-simplifiées d'un dossier",
    response_model=ProjectDsRead,
    responses=problems(401, 403, 404),
)
async def get_project_ds(
    project_id: uuid.UUID, session: SessionDep, principal: StateRoles
) -> ProjectDsRead:
    """Le côté DS d'un dossier importé : numéro et identifiant DS, état DS, signalement d'une
    modification sur DS après décision, et l'envoi de chaque décision à DS."""
    link, mutations = await ds_write_back.project_ds(session, principal, project_id=project_id)
    return ProjectDsRead(
        project_id=link.project_id,
        demarche_number=link.demarche_number,
        dossier_number=link.dossier_number,
        dossier_id=link.dossier_id,
        ds_state=link.ds_state,
        flagged_at=link.flagged_at,
        flag_reason=link.flag_reason,
        mutations=[_mutation_read(m) for m in mutations],
    )
