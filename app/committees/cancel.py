"""Cancelling a committee (R-COM-2): an open committee with no decision is cancelled, never
closed; its dossiers are free for a later committee."""

from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.auth.principal import Principal
from app.committees import access
from app.committees.agenda import open_agenda
from app.committees.errors import CancelRefused
from app.committees.models import AgendaItem
from app.committees.rules import CommitteeStatus
from app.committees.views import CommitteeView, committee_view
from app.core.types import utcnow


async def cancel_committee(
    session: AsyncSession, principal: Principal, *, committee_id: uuid.UUID, if_match: str | None
) -> CommitteeView:
    """R-COM-2: cancel an open committee with no decision on its agenda (409 otherwise): a
    planned one, or one whose decided dossiers all left the agenda. Its dossiers leave the
    agenda, free for a later committee; R-COM-1's count is not reset (only a close does).
    R-ACL-1: its prefecture only (DINUM, ANCT: 403)."""
    committee = await access.writable(session, principal, committee_id, if_match)
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
    before, before_status = await open_agenda(session, committee), committee.status
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
    await access.changed(  # R-AUDIT-1
        session,
        principal,
        committee,
        "cancelled",
        before={"status": before_status, "agenda": before},
        after={"status": committee.status, "agenda": []},
    )
    return await committee_view(session, committee)
