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
    with a submission come from one index probe each (`_departements_walk`)."""
    pid = programme.id
    closed = _last_closes(pid)
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
        submitted = _departements_walk(pid, waiting_only=False)
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


async def due_departements(
    session: AsyncSession, principal: Principal, *, programme: Programme
) -> list[str]:
    """R-COM-1's answer alone: the départements in scope whose committee is due, as
    `committee_status` finds them (the dashboards' committees due), without its counts.

    Issue 28: a département is due only when a dossier waits, so the départements that can be
    are those with a waiting dossier (in scope for DINUM and ANCT, whose scope holds every
    département with a submission; a prefect's own), found by one probe each of
    ix_project_waiting; and the rule only asks whether the dossiers submitted since the last
    close reach the threshold: they are counted up to it (a LIMITed range of that index), not
    all ~52,000 waiting at 200,000 dossiers; the oldest waiting submission is one probe."""
    pid = programme.id
    threshold = programme.committee_filing_threshold
    closed = _last_closes(pid)
    if principal.role is Role.PREFECT:
        deps = select(literal(principal.departement, type_=String).label("departement")).subquery()
    else:
        walk = _departements_walk(pid, waiting_only=True)
        deps = core_select(walk.c.departement).where(walk.c.departement.is_not(None)).subquery()
    departement = deps.c.departement

    def up_to_threshold(*since: ColumnElement[bool]) -> Any:
        """How many of the département's waiting dossiers (since the last close), counted up
        to the threshold: what R-COM-1 compares with it."""
        some = (
            core_select(literal(1).label("one"))
            .where(*_waiting(pid), col(Project.departement) == departement, *since)
            .limit(max(threshold, 0))
            .correlate(deps, closed)
            .subquery()
        )
        return core_select(func.count()).select_from(some).scalar_subquery()

    first = (
        core_select(func.min(col(Project.submitted_at)))
        .where(*_waiting(pid), col(Project.departement) == departement)
        .scalar_subquery()
    )
    stmt = (
        core_select(
            departement,
            closed.c.last_close,
            # Before any close every waiting dossier counts; after one, those submitted since.
            case(
                (closed.c.last_close.is_(None), up_to_threshold()),
                else_=up_to_threshold(col(Project.submitted_at) > closed.c.last_close),
            ),
            first,
        )
        .select_from(deps)
        .outerjoin(closed, closed.c.departement == departement)
    )
    today = clock.today()
    due = []
    for dep, last_close, since_count, first_submitted in (await session.execute(stmt)).all():
        anchor = last_close or first_submitted
        reason = committee_due(
            submitted_since_last=int(since_count),
            # None waiting or some (the oldest one's submission): all the rule asks of it.
            waiting=0 if first_submitted is None else 1,
            anchor=anchor.astimezone(PARIS).date() if anchor else None,
            today=today,
            threshold=threshold,
        )
        if reason is not None:
            due.append(str(dep))
    return due


def _last_closes(pid: uuid.UUID) -> Any:
    """Each département's last closed committee of the programme."""
    return (
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


def _departements_walk(pid: uuid.UUID, *, waiting_only: bool) -> CTE:
    """The départements with a submitted dossier of the programme (waiting or not: the scope
    of DINUM and ANCT, R-COM-1), or with a waiting one, one index probe each (issue 28): a
    recursive walk from one département to the next of ix_project_stats, or of
    ix_project_waiting (a "skip scan"), never a pass over the dossiers. The walk ends on NULL,
    which the caller leaves out."""

    def first_after(after: Any | None) -> Any:
        if waiting_only:
            cond = list(_waiting(pid))
        else:
            cond = [col(Project.programme_id) == pid, col(Project.submitted_at).is_not(None)]
        if after is not None:
            cond.append(col(Project.departement) > after)
        return core_select(func.min(col(Project.departement))).where(*cond).scalar_subquery()

    name = "waiting_departements" if waiting_only else "submitted_departements"
    walk = core_select(first_after(None).label("departement")).cte(name, recursive=True)
    return walk.union_all(
        core_select(first_after(walk.c.departement)).where(walk.c.departement.is_not(None))
    )
