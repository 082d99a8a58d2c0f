"""/projects: dossiers, their eligibility report, their lifecycle and history."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from app.auth.dependencies import Read, Write, read_access, require_roles, write_access
from app.auth.principal import Principal, Role
from app.core import tags
from app.core.concurrency import ETAG, IfMatchHeader, etag_for
from app.core.db import SessionDep
from app.core.errors import problems
from app.core.filters import SubmittedFrom, SubmittedTo, UpdatedSince
from app.core.lean_route import LeanRoute, lean
from app.core.location import set_location
from app.core.pagination import CursorFormat, PageParams, page_params_for
from app.programme import cache as programme_cache
from app.programme.dependencies import ReadProgramme, default_code
from app.projects import (
    actions as projects_actions,
    assessment as projects_assessment,
    filing as projects_filing,
    list_reads,
    reads as projects_reads,
    submission as projects_submission,
    transitions as projects_transitions,
)
from app.projects.lifecycle_rules import ACTION_ROLES, Action, ProjectAction, Status
from app.projects.models import Project
from app.projects.presenters import (
    PROJECT_JSON,
    dossier_fields,
    eligibility_fields,
    project_fields,
    to_read,
    transition_read,
)
from app.projects.reads import ProjectFilters
from app.projects.responses import EDIT_CONFLICT, NOT_FOUND, transition_responses
from app.projects.schemas import (
    CloseRequest,
    EligibilityRead,
    HistoryRead,
    ProjectCreate,
    ProjectList,
    ProjectRead,
    ProjectUpdate,
    ReturnRequest,
    Strand,
)
from app.reference.departements import DepartementQuery

router = APIRouter(prefix="/projects", tags=[tags.DOSSIERS], route_class=LeanRoute)
PROJECTS_CURSOR = CursorFormat("projects")

ALL_ROLES = (Role.CANDIDATE, Role.PREFECT, Role.DINUM, Role.ANCT)
Readers = Annotated[Principal, Depends(require_roles(*ALL_ROLES))]
# Issue 28: the hot reads take their caller and their connection from one dependency.
ReadByAnyone = Annotated[Read, read_access(*ALL_ROLES)]
Candidate = Annotated[Principal, Depends(require_roles(Role.CANDIDATE))]


def _roles(action: ProjectAction) -> tuple[Role, ...]:
    """The roles that may do `action`, from the table `allowed_actions` offers by (issue 12)."""
    return tuple(sorted(ACTION_ROLES[action], key=lambda r: r.value))


def _may(action: ProjectAction) -> object:
    """The role check of `action`."""
    return Depends(require_roles(*_roles(action)))


Editor = Annotated[Principal, _may(ProjectAction.EDIT)]
# The deadline day's hottest write (issue 28): its caller and its session of one dependency.
Submission = Annotated[Write, write_access(*_roles(ProjectAction.SUBMIT))]
Withdrawer = Annotated[Principal, _may(ProjectAction.WITHDRAW)]
Reviewer = Annotated[Principal, _may(ProjectAction.START_REVIEW)]
Returner = Annotated[Principal, _may(ProjectAction.RETURN)]
Closer = Annotated[Principal, _may(ProjectAction.CLOSE)]


async def _respond(
    session: SessionDep, response: Response, principal: Principal, project: Project
) -> ProjectRead:
    """A dossier just written, as its writer reads it now (one statement: the candidate's name
    and the facts of `allowed_actions`)."""
    response.headers["ETag"] = etag_for(project.version)
    name, actions = await projects_actions.name_and_actions(session, principal, project)
    programme = await programme_cache.code_of(session, project.programme_id)
    return to_read(project, name, principal, actions, programme)


@router.post(
    "",
    summary="Créer un brouillon de dossier",
    status_code=201,
    response_model=ProjectRead,
    responses={201: {"headers": ETAG}, **problems(401, 403, 409, 413, 422)},
)
async def create_project(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: Candidate,
    data: ProjectCreate,
) -> ProjectRead:
    """Déposer un brouillon de dossier pour sa propre organisation (agent candidat), sur le
    programme que nomme `programme` (par défaut, le programme par défaut du service,
    `GET /programme`) : un programme inconnu (R-PROG-2), en brouillon ou clos (R-PROG-1) : 422.

    Règles : R-ELIG-1, R-ELIG-8, R-REF-2, R-PROG-1, R-PROG-2 ; la réponse porte
    `allowed_actions` (R-FLOW-1).
    """
    project = await projects_filing.create_project(
        session, principal, default_programme=default_code(request), data=data
    )
    set_location(response, f"/projects/{project.id}")
    return await _respond(session, response, principal, project)


@router.get(
    "", summary="Lister les dossiers", response_model=ProjectList, responses=problems(401, 403, 404)
)
@lean
async def list_projects(
    read: ReadByAnyone,
    programme: ReadProgramme,
    page: Annotated[PageParams, Depends(page_params_for(PROJECTS_CURSOR))],
    departement: DepartementQuery = None,
    strand: Annotated[Strand | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
    candidate_id: Annotated[uuid.UUID | None, Query()] = None,
    submitted_from: SubmittedFrom = None,
    submitted_to: SubmittedTo = None,
    updated_since: UpdatedSince = None,
) -> Any:
    """Lister les dossiers de votre périmètre (candidat : les siens ; préfet : son département).

    Règles : R-ACL-1 (périmètre), R-EVAL-4 (pas de notes pour un candidat), R-SYNC-1
    (`updated_since`), R-PROG-2 (les dossiers d'un programme : `programme`, par défaut le
    programme par défaut du service) ; chaque élément porte `allowed_actions` (R-FLOW-1,
    R-FLOW-3).
    """
    key = await programme.key_on(read.connection)
    page_fields = await list_reads.list_projects(  # issue 28: one statement, no session
        read.connection,
        read.principal,
        programme=key,
        filters=ProjectFilters(
            programme_id=key.id,
            departement=departement,
            strand=strand,
            status=status,
            candidate_id=candidate_id,
            submitted_from=submitted_from,
            submitted_to=submitted_to,
            updated_since=updated_since,
        ),
        page=page,
    )
    return list_reads.PAGE.response(page_fields)  # ProjectList's bytes, not validated again


@router.get(
    "/{project_id}",
    summary="Lire un dossier",
    response_model=ProjectRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404, examples={404: NOT_FOUND})},
)
@lean(shape=True)
async def read_project(project_id: uuid.UUID, response: Response, read: ReadByAnyone) -> Any:
    """Lire un dossier de votre périmètre (404 hors périmètre, R-ACL-1).

    Règles : R-ACL-1, R-EVAL-4 ; porte `allowed_actions` (R-FLOW-1, R-FLOW-3) et, pour un
    dossier renvoyé, `returned_at`.
    """
    # Issue 28: one statement on a pooled connection, no session; the fields validated once,
    # by the response model.
    dossier = await projects_reads.read_dossier(
        read.connection, read.principal, project_id=project_id
    )
    response.headers["ETag"] = etag_for(dossier.row.version)
    return dossier_fields(dossier, read.principal)


@router.patch(
    "/{project_id}",
    summary="Modifier un brouillon de dossier",
    response_model=ProjectRead,
    responses={
        200: {"headers": ETAG},
        **problems(
            401, 403, 404, 409, 412, 413, 428, examples={404: NOT_FOUND, 409: EDIT_CONFLICT}
        ),
    },
)
async def update_project(
    project_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Editor,
    data: ProjectUpdate,
    if_match: IfMatchHeader = None,
) -> ProjectRead:
    """Modifier son brouillon (R-FLOW-3 : brouillons seulement, If-Match requis).

    Règles : R-FLOW-3 ; un 409 liste `allowed_actions`.
    """
    project = await projects_filing.update_project(
        session, principal, project_id=project_id, if_match=if_match, data=data
    )
    return await _respond(session, response, principal, project)


@router.get(
    "/{project_id}/eligibility",
    summary="Lire le rapport d'éligibilité d'un dossier",
    response_model=EligibilityRead,
    responses=problems(401, 403, 404),
)
@lean(shape=True)
async def read_eligibility(project_id: uuid.UUID, request: Request, read: ReadByAnyone) -> Any:
    """Le rapport d'éligibilité : coût éligible, exclusions ligne à ligne, plafond, règles.

    Pour un brouillon, `failures` est ce que le dépôt refuserait, pièces manquantes comprises
    (R-DOC-1) ; `missing_documents` liste les pièces que l'étape suivante du dossier attend
    encore (dépôt, convention, rapport final : `documents_step`).

    Règles : R-EXCL-1, R-EXCL-2, R-EXCL-3, R-CAP-1, R-CAP-2, R-CAP-3, R-ELIG-3 à R-ELIG-8,
    R-DOC-1.
    """
    # Issue 28: the dossier and its documents read in one statement, no session.
    production = request.app.state.settings.environment == "production"
    found = await projects_assessment.eligibility(
        read.connection, read.principal, project_id=project_id, production=production
    )
    return eligibility_fields(found)


@router.post(
    "/{project_id}/submit",
    summary="Déposer un dossier",
    response_model=ProjectRead,
    responses=transition_responses(Action.SUBMIT, Status.IN_REVIEW, "en instruction", ["withdraw"]),
)
@lean
async def submit_project(
    project_id: uuid.UUID, write: Submission, if_match: IfMatchHeader = None
) -> Response:
    """Déposer le dossier : le contrôle d'éligibilité liste chaque règle non respectée
    (R-FLOW-2).

    Règles : R-FLOW-1, R-FLOW-2, R-FLOW-3 ; un 409 liste `allowed_actions`.
    """
    # Issue 28: the caller and the session of one dependency, solved below FastAPI's machinery.
    principal = write.principal
    submitted = await projects_submission.submit(
        write.session, principal, project_id=project_id, if_match=if_match
    )
    # Issue 28: `ProjectRead`'s bytes written from fields of its types, not validated twice
    # (by `to_read`, then by FastAPI's response model) on the deadline day's hottest write.
    response = PROJECT_JSON.response(
        project_fields(
            submitted.project,
            submitted.candidate_name,
            principal,
            submitted.allowed_actions,
            submitted.programme_code,
        )
    )
    response.headers["ETag"] = etag_for(submitted.project.version)
    return response


@router.post(
    "/{project_id}/withdraw",
    summary="Retirer un dossier",
    response_model=ProjectRead,
    responses=transition_responses(Action.WITHDRAW, Status.CLOSED, "classé sans suite", []),
)
async def withdraw_project(
    project_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Withdrawer,
    if_match: IfMatchHeader = None,
) -> ProjectRead:
    """Retirer son dossier (brouillon, déposé ou en instruction).

    Règles : R-FLOW-1, R-FLOW-3 (If-Match) ; un 409 liste `allowed_actions`.
    """
    project = await projects_transitions.transition(
        session, principal, project_id=project_id, action=Action.WITHDRAW, if_match=if_match
    )
    return await _respond(session, response, principal, project)


@router.post(
    "/{project_id}/start-review",
    summary="Mettre un dossier en instruction",
    response_model=ProjectRead,
    responses=transition_responses(Action.START_REVIEW, Status.DRAFT, "brouillon", []),
)
async def start_review(
    project_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Reviewer,
    if_match: IfMatchHeader = None,
) -> ProjectRead:
    """Mettre un dossier déposé en instruction (préfet du département).

    Règles : R-FLOW-1 (déposé seulement), R-FLOW-3 (If-Match) ; un 409 liste `allowed_actions`.
    """
    project = await projects_transitions.transition(
        session, principal, project_id=project_id, action=Action.START_REVIEW, if_match=if_match
    )
    return await _respond(session, response, principal, project)


@router.post(
    "/{project_id}/return",
    summary="Renvoyer un dossier pour complément",
    response_model=ProjectRead,
    responses=transition_responses(Action.RETURN, Status.SUBMITTED, "déposé", ["start-review"]),
)
async def return_project(
    project_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Returner,
    data: ReturnRequest,
    if_match: IfMatchHeader = None,
) -> ProjectRead:
    """Renvoyer un dossier en instruction au candidat pour complément, avec un message.

    Règles : R-FLOW-1 (en instruction seulement), R-FLOW-3 (If-Match) ; le dossier redevient
    brouillon avec `returned_at` et `status_message` ; un 409 liste `allowed_actions`.
    """
    project = await projects_transitions.transition(
        session,
        principal,
        project_id=project_id,
        action=Action.RETURN,
        if_match=if_match,
        message=data.message,
    )
    return await _respond(session, response, principal, project)


@router.post(
    "/{project_id}/close",
    summary="Classer un dossier sans suite",
    response_model=ProjectRead,
    responses=transition_responses(Action.CLOSE, Status.SUBMITTED, "déposé", ["start-review"]),
)
async def close_project(
    project_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Closer,
    data: CloseRequest,
    if_match: IfMatchHeader = None,
) -> ProjectRead:
    """Classer sans suite un dossier en instruction, avec un motif.

    Règles : R-FLOW-1 (en instruction seulement), R-FLOW-3 (If-Match) ; un 409 liste
    `allowed_actions`.
    """
    project = await projects_transitions.transition(
        session,
        principal,
        project_id=project_id,
        action=Action.CLOSE,
        if_match=if_match,
        message=data.reason,
    )
    return await _respond(session, response, principal, project)


@router.get(
    "/{project_id}/history",
    summary="Lire l'historique d'un dossier",
    response_model=HistoryRead,
    responses=problems(401, 403, 404),
)
async def read_history(
    project_id: uuid.UUID, session: SessionDep, principal: Readers
) -> HistoryRead:
    """L'historique des transitions du dossier : qui, quand, de quel état à quel état.

    Règles : R-FLOW-1, R-ACL-1.
    """
    items = await projects_reads.history(session, principal, project_id=project_id)
    hide = projects_reads.hides_state_agents(principal)
    return HistoryRead(
        project_id=project_id, items=[transition_read(i, hide_agent=hide) for i in items]
    )
