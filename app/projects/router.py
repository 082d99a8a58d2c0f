"""/projects: dossiers, their eligibility report, their lifecycle and history."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from app.auth.dependencies import require_roles
from app.auth.principal import Principal, Role
from app.core import tags
from app.core.concurrency import ETAG, IfMatchHeader, etag_for
from app.core.db import SessionDep
from app.core.errors import example_problem, problems
from app.core.filters import SubmittedFrom, SubmittedTo, UpdatedSince
from app.core.location import set_location
from app.core.pagination import CursorFormat, PageParams, page_params_for
from app.programme import cache as programme_cache
from app.programme.dependencies import ProgrammeRef, default_code
from app.projects import guards, service as projects_service
from app.projects.models import Project, ProjectTransition
from app.projects.rules import (
    ACTION_ROLES,
    TRANSITIONS,
    Action,
    ProjectAction,
    Status,
    centi_text,
)
from app.projects.schemas import (
    CloseRequest,
    EligibilityRead,
    HistoryRead,
    LineOutcomeRead,
    ProjectCreate,
    ProjectList,
    ProjectRead,
    ProjectUpdate,
    ReturnRequest,
    RuleFailureRead,
    Strand,
    TransitionRead,
)
from app.reference.departements import DepartementQuery

router = APIRouter(prefix="/projects", tags=[tags.DOSSIERS])
PROJECTS_CURSOR = CursorFormat("projects")

ALL_ROLES = (Role.CANDIDATE, Role.PREFECT, Role.DINUM, Role.ANCT)
Readers = Annotated[Principal, Depends(require_roles(*ALL_ROLES))]
Candidate = Annotated[Principal, Depends(require_roles(Role.CANDIDATE))]


def _may(action: ProjectAction) -> object:
    """The role check of `action`, from the table `allowed_actions` offers by (issue 12)."""
    return Depends(require_roles(*sorted(ACTION_ROLES[action], key=lambda r: r.value)))


Editor = Annotated[Principal, _may(ProjectAction.EDIT)]
Submitter = Annotated[Principal, _may(ProjectAction.SUBMIT)]
Withdrawer = Annotated[Principal, _may(ProjectAction.WITHDRAW)]
Reviewer = Annotated[Principal, _may(ProjectAction.START_REVIEW)]
Returner = Annotated[Principal, _may(ProjectAction.RETURN)]
Closer = Annotated[Principal, _may(ProjectAction.CLOSE)]


def _scores(project: Any, *, shown: bool) -> dict[str, object] | None:
    """R-EVAL-4: None for a candidate; the summary stored on the row otherwise (R-EVAL-3).
    The fields of `ProjectScores`, validated with the dossier's (one validation, issue 13)."""
    if not shown:
        return None
    return _score_fields(
        project.evaluation_count,
        project.mean_score_centi,
        project.advisory_count,
        project.advisory_mean_centi,
    )


def _score_fields(
    count: int, mean_centi: int | None, advisory_count: int, advisory_mean_centi: int | None
) -> dict[str, object]:
    return {
        "count": count,
        "mean_weighted_total": centi_text(mean_centi),
        "advisory_count": advisory_count,
        "advisory_mean_weighted_total": centi_text(advisory_mean_centi),
    }


def _list_item(
    row: Any,
    shows_scores: bool,
    facts: Callable[[Any], Mapping[str, Any]],
    actions: Callable[[Mapping[str, Any], Mapping[str, Any]], list[ProjectAction]],
    programme: str,
) -> dict[str, object]:
    """A list row as `ProjectSummary`'s fields: its summary values by name (positional
    reads, issue 13), the four score columns folded into `evaluations`, and what the caller
    may do on it now."""
    item = projects_service.summary_values(row)
    scores = (
        item.pop("evaluation_count"),
        item.pop("mean_score_centi"),
        item.pop("advisory_count"),
        item.pop("advisory_mean_centi"),
    )
    item["evaluations"] = _score_fields(*scores) if shows_scores else None
    item["allowed_actions"] = actions(item, facts(row))
    item["programme"] = programme  # the list's one programme (R-PROG-2)
    del item["programme_id"]  # read by `actions` (R-EVAL-3), not shown here
    return item


def _summary_fields(
    project: Any,
    candidate_name: str,
    principal: Principal,
    actions: list[ProjectAction],
    programme: str,
) -> dict[str, object]:
    """The summary of a dossier: a loaded Project, or a list row of its summary columns, with
    what the caller may do on it now (`projects_service.actions_for`) and its programme's
    code (R-PROG-2)."""
    shows_scores = projects_service.shows_scores(principal)
    return {
        "id": project.id,
        "candidate_id": project.candidate_id,
        "candidate_name": candidate_name,
        "programme": programme,
        "departement": project.departement,
        "strand": project.strand,
        "title": project.title,
        "nature": project.nature,
        "status": project.status,
        "requested_cents": project.requested_cents,
        "total_cost_cents": project.total_cost_cents,
        "start_on": project.start_on,
        "end_on": project.end_on,
        "submitted_at": project.submitted_at,
        "returned_at": project.returned_at,
        "allowed_actions": actions,
        "evaluations": _scores(project, shown=shows_scores),
        "version": project.version,
        "created_at": project.created_at,
        "updated_at": project.updated_at,
    }


def to_read(
    project: Project,
    candidate_name: str,
    principal: Principal,
    actions: list[ProjectAction],
    programme: str,
) -> ProjectRead:
    return ProjectRead.model_validate(
        {
            **_summary_fields(project, candidate_name, principal, actions, programme),
            "description": project.description,
            "objectives": project.objectives,
            "status_message": project.status_message,
            "sponsor": {"name": project.sponsor_name, "role": project.sponsor_role},
            "team": project.team,
            "agents_impacted": project.agents_impacted,
            "users_impacted": project.users_impacted,
            "replicability": project.replicability,
            "open_source": project.open_source,
            # ORM lines, read by their attributes in the same validation (issue 13: one
            # validation of the dossier instead of one per line and per team member).
            "expense_lines": project.expense_lines,
            "other_funding": project.funding_lines,
        }
    )


def eligibility_read(found: projects_service.Eligibility) -> EligibilityRead:
    project, report = found.project, found.report
    lines = {str(line.id): line for line in project.expense_lines}
    excluded = [
        LineOutcomeRead(
            line_id=uuid.UUID(o.ref) if o.ref else None,
            position=o.index,
            label=lines[o.ref].label if o.ref in lines else "",
            amount_cents=o.amount_cents,
            eligible_cents=o.eligible_cents,
            excluded_cents=o.excluded_cents,
            rule=o.rule or "",
            reason=o.reason or "",
        )
        for o in report.cost.excluded
    ]
    return EligibilityRead(
        project_id=project.id,
        status=Status(project.status),
        eligible=report.eligible,
        total_cost_cents=report.cost.total_cost_cents,
        eligible_cost_cents=report.cost.eligible_cost_cents,
        excluded_cents=sum(o.excluded_cents for o in report.cost.excluded),
        excluded=excluded,
        funding_cap_cents=report.funding_cap_cents,
        forfait_cents=report.forfait_cents,
        forfait_tier=report.forfait_tier,
        max_grant_cents=report.max_grant_cents,
        requested_cents=project.requested_cents,
        other_public_funding_cents=report.other_public_funding_cents,
        failures=[
            RuleFailureRead(code=f.code, message=f.message, field=f.field) for f in report.failures
        ],
        documents_step=found.documents_step,
        missing_documents=[
            RuleFailureRead(code=f.code, message=f.message, field=f.field)
            for f in found.missing_documents
        ],
    )


EXAMPLE_PROJECT = "/api/v1/projects/3f2c9a1e-8b4d-4e6f-9a0b-1c2d3e4f5a6b"


def _problem(
    status: int, slug: str, title: str, detail: str, code: str, **extra: Any
) -> dict[str, Any]:
    """A problem+json example of this router's contract (issue 12)."""
    return example_problem(status, slug, title, detail, code, instance=EXAMPLE_PROJECT, **extra)


NOT_FOUND = _problem(
    404,
    "project-not-found",
    "Dossier introuvable",
    "Ce dossier n'existe pas ou n'est pas dans votre périmètre.",
    "R-ACL-1",
)


def _transition_responses(
    action: Action, current: Status, label: str, allowed: list[str]
) -> dict[int | str, dict[str, object]]:
    """The documented answers of a transition, with the 409 a UI meets most (R-FLOW-1)."""
    target = TRANSITIONS[action][1]
    conflict = _problem(
        409,
        "invalid-transition",
        "Transition interdite",
        f"Transition « {action.value} » impossible : le dossier est « {label} » "
        f"({current.value}), la transition mènerait à « {target.value} ».",
        "R-FLOW-1",
        current_status=current.value,
        requested_status=target.value,
        allowed_actions=allowed,
    )
    conflict["instance"] = f"{conflict['instance']}/{action.value}"
    examples: dict[int, dict[str, object]] = {409: conflict, 404: NOT_FOUND}
    if action is Action.SUBMIT:
        examples[422] = _problem(
            422,
            "project-ineligible",
            "Dossier inéligible",
            "Le dossier ne peut pas être déposé : voir chaque règle non respectée dans "
            "`errors` (R-FLOW-2).",
            "R-FLOW-2",
            errors=[
                {
                    "code": "R-ELIG-3",
                    "field": "/sponsor/name",
                    "in": "body",
                    "message": "Le dossier doit nommer son porteur (élu ou cadre dirigeant).",
                },
                {
                    "code": "R-ELIG-6",
                    "field": "/end_on",
                    "in": "body",
                    "message": "Le projet dure au plus 24 mois.",
                },
            ],
        )
        return {
            200: {"headers": ETAG},
            **problems(401, 403, 404, 409, 412, 422, 428, examples=examples),
        }
    return {200: {"headers": ETAG}, **problems(401, 403, 404, 409, 412, 428, examples=examples)}


EDIT_CONFLICT = _problem(
    409,
    "project-not-editable",
    "Dossier non modifiable",
    "Le dossier est « déposé » : seuls les brouillons sont modifiables (R-FLOW-3).",
    "R-FLOW-3",
    status_current="submitted",
    allowed_actions=["withdraw"],
)


async def _respond(
    session: SessionDep, response: Response, principal: Principal, project: Project
) -> ProjectRead:
    """A dossier just written, as its writer reads it now (one statement: the candidate's name
    and the facts of `allowed_actions`)."""
    response.headers["ETag"] = etag_for(project.version)
    name, actions = await projects_service.name_and_actions(session, principal, project)
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
    project = await projects_service.create_project(
        session, principal, default_programme=default_code(request), data=data
    )
    set_location(response, f"/projects/{project.id}")
    return await _respond(session, response, principal, project)


@router.get(
    "", summary="Lister les dossiers", response_model=ProjectList, responses=problems(401, 403)
)
async def list_projects(
    session: SessionDep,
    principal: Readers,
    programme: ProgrammeRef,
    page: Annotated[PageParams, Depends(page_params_for(PROJECTS_CURSOR))],
    departement: DepartementQuery = None,
    strand: Annotated[Strand | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
    candidate_id: Annotated[uuid.UUID | None, Query()] = None,
    submitted_from: SubmittedFrom = None,
    submitted_to: SubmittedTo = None,
    updated_since: UpdatedSince = None,
) -> ProjectList:
    """Lister les dossiers de votre périmètre (candidat : les siens ; préfet : son département).

    Règles : R-ACL-1 (périmètre), R-EVAL-4 (pas de notes pour un candidat), R-SYNC-1
    (`updated_since`), R-PROG-2 (les dossiers d'un programme : `programme`, par défaut le
    programme par défaut du service) ; chaque élément porte `allowed_actions` (R-FLOW-1,
    R-FLOW-3).
    """
    rows, next_cursor = await projects_service.list_projects(
        session,
        principal,
        filters=projects_service.ProjectFilters(
            programme_id=programme.id,
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
    facts = guards.facts_reader(principal)  # what this caller's actions hang on, once
    advisors = await projects_service.page_advisors(session, principal, rows)
    actions = projects_service.page_actions(principal, advisors)
    shows_scores = projects_service.shows_scores(principal)
    return ProjectList.model_validate(  # the page validated in one call (issue 13)
        {
            "items": [
                _list_item(row, shows_scores, facts, actions, programme.code) for row in rows
            ],
            "next_cursor": next_cursor,
        }
    )


@router.get(
    "/{project_id}",
    summary="Lire un dossier",
    response_model=ProjectRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404, examples={404: NOT_FOUND})},
)
async def read_project(
    project_id: uuid.UUID, response: Response, session: SessionDep, principal: Readers
) -> ProjectRead:
    """Lire un dossier de votre périmètre (404 hors périmètre, R-ACL-1).

    Règles : R-ACL-1, R-EVAL-4 ; porte `allowed_actions` (R-FLOW-1, R-FLOW-3) et, pour un
    dossier renvoyé, `returned_at`.
    """
    view = await projects_service.read_project(session, principal, project_id=project_id)
    response.headers["ETag"] = etag_for(view.project.version)
    return to_read(
        view.project, view.candidate_name, principal, view.allowed_actions, view.programme.code
    )


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
    project = await projects_service.update_project(
        session, principal, project_id=project_id, if_match=if_match, data=data
    )
    return await _respond(session, response, principal, project)


@router.get(
    "/{project_id}/eligibility",
    summary="Lire le rapport d'éligibilité d'un dossier",
    response_model=EligibilityRead,
    responses=problems(401, 403, 404),
)
async def read_eligibility(
    project_id: uuid.UUID, session: SessionDep, principal: Readers
) -> EligibilityRead:
    """Le rapport d'éligibilité : coût éligible, exclusions ligne à ligne, plafond, règles.

    Pour un brouillon, `failures` est ce que le dépôt refuserait, pièces manquantes comprises
    (R-DOC-1) ; `missing_documents` liste les pièces que l'étape suivante du dossier attend
    encore (dépôt, convention, rapport final : `documents_step`).

    Règles : R-EXCL-1, R-EXCL-2, R-EXCL-3, R-CAP-1, R-CAP-2, R-CAP-3, R-ELIG-3 à R-ELIG-8,
    R-DOC-1.
    """
    found = await projects_service.eligibility(session, principal, project_id=project_id)
    return eligibility_read(found)


@router.post(
    "/{project_id}/submit",
    summary="Déposer un dossier",
    response_model=ProjectRead,
    responses=_transition_responses(
        Action.SUBMIT, Status.IN_REVIEW, "en instruction", ["withdraw"]
    ),
)
async def submit_project(
    project_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Submitter,
    if_match: IfMatchHeader = None,
) -> ProjectRead:
    """Déposer le dossier : le contrôle d'éligibilité liste chaque règle non respectée
    (R-FLOW-2).

    Règles : R-FLOW-1, R-FLOW-2, R-FLOW-3 ; un 409 liste `allowed_actions`.
    """
    project = await projects_service.transition(
        session, principal, project_id=project_id, action=Action.SUBMIT, if_match=if_match
    )
    return await _respond(session, response, principal, project)


@router.post(
    "/{project_id}/withdraw",
    summary="Retirer un dossier",
    response_model=ProjectRead,
    responses=_transition_responses(Action.WITHDRAW, Status.CLOSED, "classé sans suite", []),
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
    project = await projects_service.transition(
        session, principal, project_id=project_id, action=Action.WITHDRAW, if_match=if_match
    )
    return await _respond(session, response, principal, project)


@router.post(
    "/{project_id}/start-review",
    summary="Mettre un dossier en instruction",
    response_model=ProjectRead,
    responses=_transition_responses(Action.START_REVIEW, Status.DRAFT, "brouillon", []),
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
    project = await projects_service.transition(
        session, principal, project_id=project_id, action=Action.START_REVIEW, if_match=if_match
    )
    return await _respond(session, response, principal, project)


@router.post(
    "/{project_id}/return",
    summary="Renvoyer un dossier pour complément",
    response_model=ProjectRead,
    responses=_transition_responses(Action.RETURN, Status.SUBMITTED, "déposé", ["start-review"]),
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
    project = await projects_service.transition(
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
    responses=_transition_responses(Action.CLOSE, Status.SUBMITTED, "déposé", ["start-review"]),
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
    project = await projects_service.transition(
        session,
        principal,
        project_id=project_id,
        action=Action.CLOSE,
        if_match=if_match,
        message=data.reason,
    )
    return await _respond(session, response, principal, project)


def _transition_read(item: ProjectTransition, *, hide_agent: bool) -> TransitionRead:
    from_state = Status(item.from_status) if item.from_status else None
    state_agent = item.actor_role != Role.CANDIDATE.value
    return TransitionRead(
        id=item.id or 0,
        action=Action(item.action),
        from_status=from_state,
        to_status=Status(item.to_status),
        actor_role=Role(item.actor_role),
        actor=None if hide_agent and state_agent else item.actor_subject,
        message=item.message,
        at=item.at,
    )


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
    items = await projects_service.history(session, principal, project_id=project_id)
    hide = projects_service.hides_state_agents(principal)
    return HistoryRead(
        project_id=project_id, items=[_transition_read(i, hide_agent=hide) for i in items]
    )
