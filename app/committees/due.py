"""R-COM-1: which départements are due a committee, in one aggregate statement.

Read by the committees' route, the dashboards (`app.stats`) and the prefectures' reminder
(`app.notifications`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    Select,
    String,
    Subquery,
    and_,
    case,
    func,
    literal,
    or_,
    select as core_select,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.auth.principal import Principal, Role
from app.budgets.models import Envelope
from app.committees.models import Committee
from app.committees.rules import CommitteeStatus, DueReason, committee_due
from app.core import clock
from app.core.clock import PARIS
from app.programme.models import Programme
from app.projects.models import Project
from app.projects.rules import Status

WAITING = (Status.SUBMITTED.value, Status.IN_REVIEW.value)


@dataclass(frozen=True)
class DueStatus:
    departement: str
    reason: DueReason | None
    submitted_since_last: int
    waiting: int
    since: datetime | None
    first_submitted_at: datetime | None
    threshold: int


async def committee_status(
    session: AsyncSession, principal: Principal, *, programme: Programme
) -> list[DueStatus]:
    """R-COM-1 for every département in scope (prefect: its own; DINUM, ANCT: every
    département with an envelope or a submission), in one aggregate statement: the waiting
    dossiers, those of them submitted since the last close, the oldest waiting submission.

    Issue 13: the submitted dossiers are read once, grouped by département (`filed`, an
    index-only scan of ix_project_stats); the départements in scope are the envelopes' and
    `filed`'s, never a second pass over the dossiers."""
    pid = programme.id
    closed = (
        select(
            col(Committee.departement).label("departement"),
            func.max(col(Committee.closed_at)).label("last_close"),
        )
        .where(
            col(Committee.programme_id) == pid,
            col(Committee.status) == CommitteeStatus.CLOSED.value,
        )
        .group_by(col(Committee.departement))
        .subquery()
    )
    # R-COM-1: only waiting dossiers count (returned, withdrawn, closed ones never do); the
    # accepted and rejected ones left `in_review` when their committee closed.
    waiting = col(Project.status).in_(WAITING)
    since_last = and_(
        waiting,
        or_(closed.c.last_close.is_(None), col(Project.submitted_at) > closed.c.last_close),
    )
    filed_stmt: Select[*tuple[Any, ...]] = (
        core_select(
            col(Project.departement).label("departement"),
            func.sum(case((since_last, 1), else_=0)).label("since_count"),
            func.sum(case((waiting, 1), else_=0)).label("waiting"),
            func.min(case((waiting, col(Project.submitted_at)))).label("first"),
        )
        .select_from(Project)
        .outerjoin(closed, closed.c.departement == col(Project.departement))
        .where(col(Project.programme_id) == pid, col(Project.submitted_at).is_not(None))
        .group_by(col(Project.departement))
    )
    if principal.role is Role.PREFECT:
        filed_stmt = filed_stmt.where(col(Project.departement) == principal.departement)
        deps = select(literal(principal.departement, type_=String).label("departement")).subquery()
        filed: Subquery | CTE = filed_stmt.subquery("filed")
    else:
        filed = filed_stmt.cte("filed")
        deps = union(
            select(col(Envelope.departement).label("departement")).where(
                col(Envelope.programme_id) == pid
            ),
            core_select(filed.c.departement),
        ).subquery()
    stmt = (
        core_select(
            deps.c.departement,
            closed.c.last_close,
            func.coalesce(filed.c.since_count, 0),
            func.coalesce(filed.c.waiting, 0),
            filed.c.first,
        )
        .select_from(deps)
        .outerjoin(closed, closed.c.departement == deps.c.departement)
        .outerjoin(filed, filed.c.departement == deps.c.departement)
        .order_by(deps.c.departement)
    )
    threshold = programme.committee_filing_threshold
    today = clock.today()
    result = []
    for departement, last_close, since_count, waiting, first in (await session.execute(stmt)).all():
        anchor = last_close or first
        result.append(
            DueStatus(
                departement=str(departement),
                reason=committee_due(
                    submitted_since_last=int(since_count),
                    waiting=int(waiting),
                    anchor=anchor.astimezone(PARIS).date() if anchor else None,
                    today=today,
                    threshold=threshold,
                ),
                submitted_since_last=int(since_count),
                waiting=int(waiting),
                since=last_close,
                first_submitted_at=first,
                threshold=threshold,
            )
        )
    return result
