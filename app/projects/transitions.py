"""Moving a dossier along its lifecycle (R-FLOW-1), each move stamped in its history and audited.

R-FLOW-1 (transitions, 409 naming both states), R-FLOW-2 (submit runs the eligibility check),
R-COM-3 (a committee's rejection), R-AUDIT-1; hooks tell higher domains (R-COM-2).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.core.concurrency import check_if_match, flush_versioned
from app.core.rules import raise_failures
from app.core.types import utcnow
from app.programme.rules import Step
from app.projects import hooks
from app.projects.actions import actions_now
from app.projects.assessment import assess_project
from app.projects.eligibility_rules import EligibilityReport
from app.projects.errors import (
    InvalidTransition,
    ProjectIneligible,
)
from app.projects.lifecycle_rules import (
    STATUS_LABELS_FR,
    Action,
    IllegalTransition,
    Status,
    next_status,
)
from app.projects.models import Project, ProjectTransition
from app.projects.reads import get_project

INELIGIBLE = (
    "Le dossier ne peut pas être déposé : voir chaque règle non respectée dans `errors` (R-FLOW-2)."
)
STATUS_CHANGED = "status_changed"
"""The audit action of every R-FLOW-1 transition (webhook event `project.status_changed`)."""


STAMP_COLUMNS = (
    "project_id",
    "action",
    "from_status",
    "to_status",
    "actor_subject",
    "actor_role",
    "message",
    "at",
)
"""The columns of a history row that `stamp_values` gives, the dossier's id first."""


def stamp_values(
    project: Project,
    principal: Principal,
    action: Action,
    before: Status | None,
    message: str | None = None,
) -> dict[str, Any]:
    """The history row of a transition (R-FLOW-1), as the columns of project_transition."""
    return {
        "project_id": project.id,
        "action": action.value,
        "from_status": before.value if before else None,
        "to_status": project.status,
        "actor_subject": principal.subject,
        "actor_role": principal.role.value,
        "message": message,
        "at": utcnow(),
    }


def stamp(
    project: Project,
    principal: Principal,
    action: Action,
    before: Status | None,
    message: str | None = None,
) -> ProjectTransition:
    return ProjectTransition(**stamp_values(project, principal, action, before, message))


# Issue 28: the history row is written by a Core INSERT built once, on the session's connection
# (nothing reads the row back in the transaction: no ORM object, no RETURNING of its id).
INSERT_STAMP = insert(ProjectTransition.__table__)  # type: ignore[attr-defined]


def check_transition(project: Project, action: Action) -> Status:
    """R-FLOW-1: the state `action` leads to, or InvalidTransition (409) naming both states."""
    before = Status(project.status)
    try:
        return next_status(before, action)
    except IllegalTransition as exc:
        raise InvalidTransition(
            f"Transition « {action.value} » impossible : le dossier est "
            f"« {STATUS_LABELS_FR[before]} » ({before.value}), la transition mènerait à "
            f"« {exc.target.value} ».",
            code="R-FLOW-1",
            current_status=before.value,
            requested_status=exc.target.value,
        ) from exc


async def check_transition_for(
    session: AsyncSession, principal: Principal, project: Project, action: Action
) -> Status:
    """`check_transition` for a caller: its 409 also lists the actions it may do now
    (`allowed_actions`, issue 12; their facts cost a statement on this error path only)."""
    try:
        return check_transition(project, action)
    except InvalidTransition as exc:
        exc.extensions["allowed_actions"] = [
            a.value for a in await actions_now(session, principal, project)
        ]
        raise


async def advance(
    session: AsyncSession,
    principal: Principal,
    project: Project,
    action: Action,
    message: str | None = None,
) -> None:
    """Apply `action` to a loaded dossier (R-FLOW-1) and stamp it in the history.

    The version column guards the UPDATE: a concurrent change of the dossier is a 412.
    """
    before = Status(project.status)
    project.status = check_transition(project, action).value
    project.updated_at = utcnow()
    await flush_versioned(session)
    await stamped(session, principal, project, before, action, message)


async def stamped(
    session: AsyncSession,
    principal: Principal,
    project: Project,
    before: Status,
    action: Action,
    message: str | None,
) -> None:
    """What follows a transition written: its history row, its audit event (R-AUDIT-1) and
    the higher domains' listeners (e.g. R-COM-2)."""
    connection = await session.connection()
    await connection.execute(
        INSERT_STAMP, stamp_values(project, principal, action, before, message)
    )
    await announced(session, principal, project, before, action, message)


async def announced(
    session: AsyncSession,
    principal: Principal,
    project: Project,
    before: Status,
    action: Action,
    message: str | None,
) -> None:
    """A transition written with its history row: its audit event (R-AUDIT-1) and the higher
    domains' listeners (e.g. R-COM-2)."""
    await audit.record(  # R-AUDIT-1: every transition, whoever drives it
        session,
        principal,
        object_type="project",
        object_id=project.id,
        departement=project.departement,
        action=STATUS_CHANGED,
        before={"status": before.value},
        after={"status": project.status, "transition": action.value, "message": message},
    )
    await hooks.notify(session, principal, project, before, action)  # e.g. R-COM-2


async def transition(
    session: AsyncSession,
    principal: Principal,
    *,
    project_id: uuid.UUID,
    action: Action,
    if_match: str | None,
    message: str | None = None,
) -> Project:
    """Move a dossier along R-FLOW-1, stamped in its history.

    R-FLOW-2: submit runs the eligibility check and lists every failed rule (422).
    Raises ProjectNotFound (404), 428/412 (If-Match), InvalidTransition (409).
    """
    project = await get_project(session, principal, project_id=project_id)
    check_if_match(if_match, project.version)
    await check_transition_for(session, principal, project, action)
    if action is Action.SUBMIT:
        report = await assess_project(session, project)
        raise_failures(  # R-FLOW-2: the rules, and the documents it lacks (R-DOC-1)
            [*report.failures, *await hooks.step_failures(session, project, Step.SUBMISSION)],
            error=ProjectIneligible,
            detail=INELIGIBLE,
        )
        project.submitted_at = utcnow()
        project.status_message = None
    if action in (Action.RETURN, Action.CLOSE):
        project.status_message = message
    if action is Action.RETURN:
        project.returned_at = utcnow()  # told apart from a new draft (issue 12)
    await advance(session, principal, project, action, message)
    return project


async def submit_filed(
    session: AsyncSession, principal: Principal, *, project: Project, request_day: date
) -> EligibilityReport:
    """Submit a loaded draft filed elsewhere (démarches-simplifiées) on `request_day`.

    R-FLOW-2: every rule runs, R-ELIG-8 against the filing day; an ineligible dossier stays a
    draft and the report says why (nothing is raised: the caller lists it). Returns the report.
    """
    check_transition(project, Action.SUBMIT)
    report = await assess_project(session, project, request_day=request_day)
    if report.eligible:
        project.submitted_at = utcnow()
        project.status_message = None
        await advance(session, principal, project, Action.SUBMIT)
    return report


async def reject(
    session: AsyncSession, principal: Principal, *, project_id: uuid.UUID, motivation: str
) -> Project:
    """A committee's rejection made final (R-COM-3): `in_review → rejected` (R-FLOW-1), the
    motivation kept as the dossier's status message and in its history."""
    project = await get_project(session, principal, project_id=project_id, with_lines=False)
    check_transition(project, Action.REJECT)
    project.status_message = motivation
    await advance(session, principal, project, Action.REJECT, motivation)
    return project
