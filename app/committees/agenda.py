"""The agenda of an open committee (R-COM-2): the dossiers its prefecture puts on it or takes
off, and those that leave it when they are returned, withdrawn or closed.

`leave_open_agenda` listens to the dossiers' transitions (`app.projects.hooks`): the projects
domain cannot import committees, so committees register here, at import. The router imports
this module, so every app built by `create_app` has it registered. The agenda's order
(R-COM-4) is the committee's read (`app.committees.views`).
"""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.auth.principal import Principal
from app.committees import access
from app.committees.decisions import drop_decision
from app.committees.errors import AgendaItemsRefused, AgendaRefused
from app.committees.models import AgendaItem, Committee
from app.committees.rules import OPEN_STATUSES, LeftReason
from app.committees.schemas import AgendaChange
from app.committees.views import CommitteeView, committee_view
from app.core.errors import ProblemItem
from app.core.types import utcnow
from app.projects import hooks as projects_hooks
from app.projects.lifecycle_rules import Action, Status
from app.projects.models import Project


async def change_agenda(
    session: AsyncSession,
    principal: Principal,
    *,
    committee_id: uuid.UUID,
    if_match: str | None,
    data: AgendaChange,
) -> CommitteeView:
    """Remove, then add dossiers while the committee is open. R-COM-2: only `in_review`
    dossiers of its département (any other id: 422 naming it, the same answer for another
    département's, an unknown one or one not in review) and, R-PROG-2, of its programme (422
    naming R-PROG-2), each on one open agenda at most (409); every refused dossier is named and
    nothing changes. A dossier that left the agenda (returned, withdrawn, closed) and is in
    review again comes back on it."""
    committee = await access.writable(session, principal, committee_id, if_match)
    before = await open_agenda(session, committee)
    every = {
        i.project_id: i
        for i in (
            await session.execute(
                select(AgendaItem).where(col(AgendaItem.committee_id) == committee.id)
            )
        )
        .scalars()
        .all()
    }
    items = {pid: i for pid, i in every.items() if i.left_at is None}
    for project_id in data.remove:
        item = items.pop(project_id, None)
        if item is not None:
            await session.delete(item)
    await session.flush()
    wanted = [(i, pid) for i, pid in enumerate(data.add) if pid not in items]
    ids = [pid for _, pid in wanted]
    projects = {
        p.id: p
        for p in (
            await session.execute(
                select(Project).where(
                    col(Project.id).in_(ids), col(Project.departement) == committee.departement
                )
            )
        )
        .scalars()
        .all()
    }
    elsewhere = dict(
        (
            await session.execute(
                select(AgendaItem.project_id, AgendaItem.committee_id).where(
                    col(AgendaItem.project_id).in_(ids), col(AgendaItem.is_open)
                )
            )
        ).all()
    )
    inadmissible: list[ProblemItem] = []
    failures: list[ProblemItem] = []
    added: set[uuid.UUID] = set()
    for index, pid in wanted:
        project = projects.get(pid)
        if project is None or project.status != Status.IN_REVIEW.value:
            # R-COM-2: one answer for another département's, an unknown or a not-in-review
            # dossier, so that existence does not leak.
            inadmissible.append(
                _refused(
                    index,
                    pid,
                    f"{pid} n'est pas un dossier en instruction du département "
                    f"{committee.departement}.",
                )
            )
        elif project.programme_id != committee.programme_id:
            # R-PROG-2: a committee decides the dossiers of its own programme only.
            inadmissible.append(
                ProblemItem(
                    code="R-PROG-2",
                    message=f"Le dossier « {project.title} » relève d'un autre programme que "
                    "ce comité.",
                    field=f"/add/{index}",
                    project_id=str(pid),
                )
            )
        elif pid in elsewhere and elsewhere[pid] != committee.id:
            failures.append(
                _refused(
                    index,
                    pid,
                    f"Le dossier « {project.title} » est déjà à l'ordre du jour du "
                    f"comité {elsewhere[pid]}, encore ouvert.",
                )
            )
        elif pid not in added:
            added.add(pid)
            left = every.get(pid)
            if left is not None:  # back in review after leaving: on the agenda again
                left.is_open, left.left_at, left.left_reason = True, None, None
                left.added_by, left.added_at = principal.subject, utcnow()
            else:
                session.add(
                    AgendaItem(
                        committee_id=committee.id, project_id=pid, added_by=principal.subject
                    )
                )
    if inadmissible:
        raise AgendaItemsRefused(
            "Ordre du jour refusé : seuls les dossiers en instruction du département "
            f"{committee.departement}, sur le programme du comité, peuvent y être inscrits "
            "(R-COM-2, R-PROG-2). Voir `errors`.",
            code=inadmissible[0].code,
            errors=inadmissible + failures,
        )
    if failures:
        raise AgendaRefused(
            "Ordre du jour refusé : seuls les dossiers en instruction du département, absents "
            "de tout autre comité ouvert, peuvent y être inscrits (R-COM-2).",
            code="R-COM-2",
            errors=failures,
        )
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # added meanwhile to another open agenda
        raise AgendaRefused(
            "Un de ces dossiers vient d'être inscrit à un autre comité ouvert (R-COM-2).",
            code="R-COM-2",
        ) from exc
    await access.changed(  # R-AUDIT-1: the agenda before and after (nothing if unchanged)
        session,
        principal,
        committee,
        "agenda_changed",
        before={"agenda": before},
        after={"agenda": await open_agenda(session, committee)},
    )
    return await committee_view(session, committee)


def _refused(index: int, project_id: uuid.UUID, message: str) -> ProblemItem:
    """R-COM-2: the dossier at `add[index]` may not go on the agenda."""
    return ProblemItem(
        code="R-COM-2", message=message, field=f"/add/{index}", project_id=str(project_id)
    )


async def open_agenda(session: AsyncSession, committee: Committee) -> list[str]:
    """The dossiers on the committee's open agenda, as sorted ids (for the audit trail)."""
    ids = await session.execute(
        select(AgendaItem.project_id).where(
            col(AgendaItem.committee_id) == committee.id, col(AgendaItem.is_open).is_(True)
        )
    )
    return sorted(str(i) for i in ids.scalars().all())


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
        item.is_open, item.left_at, item.left_reason = False, utcnow(), reason.value
        dropped = drop_decision(item)
        await access.changed(  # R-AUDIT-1: the agenda lost a dossier
            session,
            principal,
            committee,
            "agenda_left",
            before={"project_id": str(project.id), **dropped},
            after={"project_id": str(project.id), "left_reason": reason.value},
        )
