"""/projects/{id}/evaluations and /evaluations/{id} (R-EVAL-1..4).

Candidates get 403 on every operation (R-EVAL-4); DINUM reads but does not evaluate.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.auth.dependencies import require_roles
from app.auth.principal import Principal, Role
from app.core import tags
from app.core.concurrency import ETAG, IfMatchHeader, etag_for
from app.core.db import SessionDep
from app.core.errors import problems
from app.core.filters import UpdatedSince
from app.core.location import set_location
from app.core.pagination import CursorFormat, PageParams, page_params_for
from app.evaluations import service as evaluations_service
from app.evaluations.models import Evaluation
from app.evaluations.rules import EvaluationStatus, Recommendation
from app.evaluations.schemas import (
    EvaluationCreate,
    EvaluationList,
    EvaluationRead,
    EvaluationUpdate,
    ScoreRead,
)
from app.projects.display import centi_text
from app.projects.lifecycle_rules import ACTION_ROLES, ProjectAction

project_evaluations_router = APIRouter(prefix="/projects", tags=[tags.EVALUATIONS])
evaluations_router = APIRouter(prefix="/evaluations", tags=[tags.EVALUATIONS])
EVALUATIONS_CURSOR = CursorFormat("evaluations")

# R-EVAL-4: never candidates. R-EVAL-3: the prefect and ANCT (on its strands only) evaluate,
# not DINUM: the table `allowed_actions` offers `evaluate` by (issue 12).
Readers = Annotated[Principal, Depends(require_roles(Role.PREFECT, Role.DINUM, Role.ANCT))]
Evaluators = Annotated[
    Principal,
    Depends(
        require_roles(*[role for role in Role if role in ACTION_ROLES[ProjectAction.EVALUATE]])
    ),
]


def to_read(evaluation: Evaluation) -> EvaluationRead:
    return EvaluationRead(
        id=evaluation.id,
        project_id=evaluation.project_id,
        evaluator=evaluation.evaluator_subject,
        evaluator_role=Role(evaluation.evaluator_role),
        advisory=evaluation.advisory,
        recused=evaluation.recused,
        status=EvaluationStatus(evaluation.status),
        grid_version=evaluation.grid_version,
        scores=None
        if evaluation.scores is None
        else [ScoreRead(code=code, score=score) for code, score in evaluation.scores.items()],
        weighted_total=centi_text(evaluation.weighted_total_centi),
        recommendation=Recommendation(evaluation.recommendation)
        if evaluation.recommendation
        else None,
        comments=evaluation.comments,
        version=evaluation.version,
        created_at=evaluation.created_at,
        updated_at=evaluation.updated_at,
    )


def _respond(response: Response, evaluation: Evaluation) -> EvaluationRead:
    response.headers["ETag"] = etag_for(evaluation.version)
    return to_read(evaluation)


@project_evaluations_router.post(
    "/{project_id}/evaluations",
    summary="Évaluer un dossier",
    status_code=201,
    response_model=EvaluationRead,
    responses={201: {"headers": ETAG}, **problems(401, 403, 404, 409, 413)},
)
async def create_evaluation(
    project_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Evaluators,
    data: EvaluationCreate,
) -> EvaluationRead:
    """Évaluer un dossier déposé ou en instruction, une fois par évaluateur (R-EVAL-2) : le
    préfet ceux de son département ; l'ANCT ceux des volets que le programme lui confie, à titre
    consultatif (R-EVAL-3, 403 ailleurs). Notes sur la grille en vigueur du volet (R-EVAL-1) ;
    conflit d'intérêts : déport, sans notes ni recommandation. Deuxième évaluation : 409.
    Offerte par `allowed_actions` (`evaluate`) selon ces mêmes règles ; un 409 la liste."""
    evaluation = await evaluations_service.create_evaluation(
        session, principal, project_id=project_id, data=data
    )
    set_location(response, f"/evaluations/{evaluation.id}")
    return _respond(response, evaluation)


@project_evaluations_router.get(
    "/{project_id}/evaluations",
    summary="Lister les évaluations d'un dossier",
    response_model=EvaluationList,
    responses=problems(401, 403, 404),
)
async def list_evaluations(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: Readers,
    page: Annotated[PageParams, Depends(page_params_for(EVALUATIONS_CURSOR))],
    updated_since: UpdatedSince = None,
) -> EvaluationList:
    """Les évaluations d'un dossier de votre périmètre (jamais pour un candidat, R-EVAL-4)."""
    rows, next_cursor = await evaluations_service.list_evaluations(
        session, principal, project_id=project_id, page=page, updated_since=updated_since
    )
    return EvaluationList(items=[to_read(e) for e in rows], next_cursor=next_cursor)


@evaluations_router.get(
    "/{evaluation_id}",
    summary="Lire une évaluation",
    response_model=EvaluationRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404)},
)
async def read_evaluation(
    evaluation_id: uuid.UUID, response: Response, session: SessionDep, principal: Readers
) -> EvaluationRead:
    """Lire une évaluation d'un dossier de votre périmètre (404 hors périmètre, R-ACL-1)."""
    evaluation = await evaluations_service.get_evaluation(
        session, principal, evaluation_id=evaluation_id
    )
    return _respond(response, evaluation)


@evaluations_router.patch(
    "/{evaluation_id}",
    summary="Modifier son évaluation",
    response_model=EvaluationRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404, 409, 412, 413, 428)},
)
async def update_evaluation(
    evaluation_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Evaluators,
    data: EvaluationUpdate,
    if_match: IfMatchHeader = None,
) -> EvaluationRead:
    """Modifier son évaluation (son auteur seulement : 403 sinon ; If-Match requis) tant que le
    dossier est déposé ou en instruction (409 ensuite, R-EVAL-2). Un déport est définitif : il
    ne se change pas en notes (409 R-EVAL-2). Une évaluation caduque (le dossier a changé de
    volet) ne se modifie plus (409 R-EVAL-5) ; l'ANCT ne modifie la sienne que sur un dossier
    d'un volet que le programme lui confie (403 R-EVAL-5)."""
    evaluation = await evaluations_service.update_evaluation(
        session, principal, evaluation_id=evaluation_id, if_match=if_match, data=data
    )
    return _respond(response, evaluation)
