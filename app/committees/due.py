"""R-COM-1: which départements are due a committee, in one aggregate statement.

Read by the committees' route, the dashboards (`app.stats`) and the prefectures' reminder
(`app.notifications`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Select,
    String,
    case,
    func,
    literal,
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
from app.projects.lifecycle_rules import Status
from app.projects.models import Project

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
    département with an envelope or a submission), in one statement: the waiting dossiers,
    those of them submitted since the last close, the oldest waiting submission.

    Issue 28: only the waiting dossiers are read, index-only in ix_project_waiting (which holds
    them alone): counted and their oldest found per département (`filed`), those submitted
    since the last close counted by a range of that index per département. The départements
    with a submission come from one index probe each (`_submitted_departements`)."""
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
    filed_stmt: Select[*tuple[Any, ...]] = (
        core_select(
            col(Project.departement).label("departement"),
            func.count().label("waiting"),
            func.min(col(Project.submitted_at)).label("first"),
        )
        .where(*_waiting(pid))
        .group_by(col(Project.departement))
    )
    if principal.role is Role.PREFECT:
        filed_stmt = filed_stmt.where(col(Project.departement) == principal.departement)
        deps = select(literal(principal.departement, type_=String).label("departement")).subquery()
    else:
        submitted = _submitted_departements(pid)
        deps = union(
            select(col(Envelope.departement).label("departement")).where(
                col(Envelope.programme_id) == pid
            ),
            core_select(submitted.c.departement).where(submitted.c.departement.is_not(None)),
        ).subquery()
    filed = filed_stmt.subquery("filed")
    # Before any close every waiting dossier counts; after one, those submitted since.
    since_last = (
        core_select(func.count())
        .where(
            *_waiting(pid),
            col(Project.departement) == deps.c.departement,
            col(Project.submitted_at) > closed.c.last_close,
        )
        .scalar_subquery()
    )
    stmt = (
        core_select(
            deps.c.departement,
            closed.c.last_close,
            case(
                (closed.c.last_close.is_(None), func.coalesce(filed.c.waiting, 0)),
                else_=since_last,
            ),
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


def _waiting(pid: uuid.UUID) -> tuple[ColumnElement[bool], ...]:
    """R-COM-1: the programme's waiting dossiers (returned, withdrawn, closed ones never
    count; the accepted and rejected ones left `in_review` when their committee closed).
    The statuses are written into the statement, not bound, so that both databases prove the
    predicate of the partial index ix_project_waiting (issue 28), which holds them alone."""
    return (
        col(Project.status).in_([literal(s, literal_execute=True) for s in WAITING]),
        col(Project.programme_id) == pid,
        col(Project.submitted_at).is_not(None),
    )


def _submitted_departements(pid: uuid.UUID) -> CTE:
    """The départements with a submitted dossier of the programme (waiting or not: the scope
    of DINUM and ANCT, R-COM-1), one index probe each (issue 28): a recursive walk from one
    département to the next of ix_project_stats (a "skip scan"), never a pass over the
    submitted dossiers. The walk ends on NULL, which the caller leaves out."""

    def first_after(after: Any | None) -> Any:
        cond = [col(Project.programme_id) == pid, col(Project.submitted_at).is_not(None)]
        if after is not None:
            cond.append(col(Project.departement) > after)
        return core_select(func.min(col(Project.departement))).where(*cond).scalar_subquery()

    walk = core_select(first_after(None).label("departement")).cte(
        "submitted_departements", recursive=True
    )
    return walk.union_all(
        core_select(first_after(walk.c.departement)).where(walk.c.departement.is_not(None))
    )
