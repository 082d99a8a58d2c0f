"""A committee's life beside its decisions (R-COM-2): cancelling a committee with no decision,
and the dossiers that leave an open agenda when they are returned, withdrawn or closed.

`leave_open_agenda` listens to the dossiers' transitions (`app.projects.hooks`): the projects
domain cannot import committees, so committees register here, at import. The routers import
this module, so every app built by `create_app` has it registered.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.audit import service as audit
from app.auth.principal import Principal
from app.committees.errors import CancelRefused
from app.committees.models import AgendaItem, Committee
from app.committees.rules import OPEN_STATUSES, CommitteeStatus, LeftReason

# The committee's shared steps (package-private to committees).
from app.committees.service import (
    DECISION_FIELDS,
    CommitteeView,
    _open_agenda,
    _touch,
    _writable,
    committee_view,
)
from app.core.types import utcnow
from app.projects import hooks as projects_hooks
from app.projects.models import Project
from app.projects.rules import Action, Status

# R-COM-2: the transitions that take a dossier off an open agenda.
LEFT_BY = {
    Action.RETURN: LeftReason.RETURNED,
    Action.WITHDRAW: LeftReason.WITHDRAWN,
    Action.CLOSE: LeftReason.CLOSED,
}


@projects_hooks.on_transition
async def leave_open_agenda(
    session: AsyncSession, principal: Principal, project: Project, before: Status, action: Action
) -> None:
    """R-COM-2: a dossier returned, withdrawn or closed while on an open agenda leaves it, in
    the transition's transaction. Its item stays, marked as left (when, why) for the minutes;
    a decision already recorded on it is dropped (the audit trail keeps it).

    Registered on the projects' transitions (`app.projects.hooks`): projects cannot import
    committees, so committees listen to them."""
    reason = LEFT_BY.get(action)
    if reason is None:
        return
    rows = (
        await session.execute(
            select(AgendaItem, Committee)
            .join(Committee, col(Committee.id) == col(AgendaItem.committee_id))
            .where(
                col(AgendaItem.project_id) == project.id,
                col(AgendaItem.is_open),
                col(Committee.status).in_(OPEN_STATUSES),
            )
        )
    ).all()
    for item, committee in rows:
        dropped = audit.snapshot(item, DECISION_FIELDS)
        item.is_open, item.left_at, item.left_reason = False, utcnow(), reason.value
        item.outcome = item.granted_cents = item.motivation = None
        item.decided_by = item.decided_at = None
        await _touch(session, committee)
        await audit.record(  # R-AUDIT-1: the agenda lost a dossier
            session,
            principal,
            object_type="committee",
            object_id=committee.id,
            departement=committee.departement,
            action="agenda_left",
            before={"project_id": str(project.id), **dropped},
            after={"project_id": str(project.id), "left_reason": reason.value},
        )


# -- cancel (R-COM-2) --------------------------------------------------------------------------


async def cancel_committee(
    session: AsyncSession, principal: Principal, *, committee_id: uuid.UUID, if_match: str | None
) -> CommitteeView:
    """R-COM-2: cancel an open committee with no decision on its agenda (409 otherwise): a
    planned one, or one whose decided dossiers all left the agenda. Its dossiers leave the
    agenda, free for a later committee; R-COM-1's count is not reset (only a close does).
    R-ACL-1: its prefecture only (DINUM, ANCT: 403)."""
    committee = await _writable(session, principal, committee_id, if_match)
    decided = (
        await session.execute(
            select(func.count()).where(
                col(AgendaItem.committee_id) == committee.id,
                col(AgendaItem.is_open),
                col(AgendaItem.outcome).is_not(None),
            )
        )
    ).scalar_one()
    if decided:
        raise CancelRefused(
            f"Le comité a enregistré {decided} décision(s) : il ne peut plus être annulé, "
            "seulement clos (R-COM-2).",
            code="R-COM-2",
            current_status=committee.status,
        )
    before, before_status = await _open_agenda(session, committee), committee.status
    items = await session.execute(
        select(AgendaItem).where(
            col(AgendaItem.committee_id) == committee.id, col(AgendaItem.is_open)
        )
    )
    for item in items.scalars().all():
        item.is_open = False  # free for a later committee
    committee.status = CommitteeStatus.CANCELLED.value
    committee.cancelled_at = utcnow()
    committee.cancelled_by = principal.subject
    await _touch(session, committee)
    await audit.record(  # R-AUDIT-1
        session,
        principal,
        object_type="committee",
        object_id=committee.id,
        departement=committee.departement,
        action="cancelled",
        before={"status": before_status, "agenda": before},
        after={"status": committee.status, "agenda": []},
    )
    return await committee_view(session, committee)
