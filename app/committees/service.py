"""Use cases of committees: status (R-COM-1), committees, agenda (R-COM-2, R-COM-4), decisions,
close (R-COM-3), minutes and the decision a candidate reads.

The close is one transaction: every accepted grant goes through `budgets.grants.commit_grant`
(R-CAP-1..4, R-REF-2), every rejection through the projects' lifecycle, each in a SAVEPOINT so
that every failure is collected; any failure raises, and the request's rollback undoes it all.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
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
    false,
    func,
    literal,
    or_,
    select as core_select,
    union,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlmodel import col, select

from app.audit import service as audit
from app.audit.rules import summarise
from app.auth.principal import Principal, Role
from app.budgets import grants as grants_service, repository as budgets_repository
from app.budgets.models import Envelope
from app.budgets.rules import check_grant_amount
from app.candidates.models import Candidate
from app.committees.errors import (
    AgendaItemsRefused,
    AgendaRefused,
    CloseRefused,
    CommitteeCancelled,
    CommitteeClosed,
    CommitteeDateRefused,
    CommitteeNotFound,
    DecisionNotFound,
    DecisionRefused,
    NationalDecider,
    RecusedDecider,
)
from app.committees.models import AgendaItem, Committee
from app.committees.rules import (
    AgendaRank,
    CommitteeStatus,
    DueReason,
    Outcome,
    agenda_sort_key,
    committee_due,
    is_small_population,
    meeting_date_problem,
)
from app.committees.schemas import (
    AcceptedDecision,
    AgendaChange,
    CommitteeCreate,
    DeferredDecision,
    RejectedDecision,
)
from app.core import clock
from app.core.clock import PARIS
from app.core.concurrency import check_if_match, flush_versioned
from app.core.errors import AppError, ProblemItem
from app.core.pagination import PageParams, keyset_page, split_page
from app.core.rules import RuleFailure, raise_failures
from app.core.types import utcnow
from app.evaluations.models import Evaluation
from app.programme.models import Programme
from app.projects import service as projects_service
from app.projects.models import Project
from app.projects.rules import EligibilityReport, ScoreSummary, Status, euros

WAITING = (Status.SUBMITTED.value, Status.IN_REVIEW.value)


# -- R-COM-1: which départements are due -------------------------------------------------------


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


# -- committees --------------------------------------------------------------------------------


def _scoped(stmt: Any, principal: Principal) -> Any:
    """R-ACL-1: a prefect reaches its département's committees; DINUM and ANCT all."""
    if principal.role is Role.PREFECT:
        return stmt.where(col(Committee.departement) == principal.departement)
    if principal.is_national:
        return stmt
    return stmt.where(false())


async def get_committee(
    session: AsyncSession, principal: Principal, *, committee_id: uuid.UUID, lock: bool = False
) -> Committee:
    """A committee in scope, else 404 (R-ACL-1); `lock` takes its row lock (writes)."""
    stmt = _scoped(select(Committee), principal).where(col(Committee.id) == committee_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    committee: Committee | None = (await session.execute(stmt)).scalar_one_or_none()
    if committee is None:
        raise CommitteeNotFound()
    return committee


def check_decider(principal: Principal) -> None:
    """R-ACL-1: only a prefecture plans, decides and closes its committees; DINUM and ANCT,
    who read every committee, never decide (403), whatever the route lets through."""
    if principal.role is not Role.PREFECT:
        raise NationalDecider(code="R-ACL-1")


async def _writable(
    session: AsyncSession, principal: Principal, committee_id: uuid.UUID, if_match: str | None
) -> Committee:
    """The committee, driven by its prefecture (R-ACL-1: 403), in scope (404), locked, at the
    version the caller read (R-FLOW-3: If-Match missing 428, stale 412), open (R-COM-3: closed
    409; R-COM-2: cancelled 409)."""
    check_decider(principal)  # before any read: the refusal does not depend on the data
    committee = await get_committee(session, principal, committee_id=committee_id, lock=True)
    check_if_match(if_match, committee.version)
    if committee.status == CommitteeStatus.CLOSED.value:
        # R-COM-3: a closed committee is final.
        raise CommitteeClosed(current_status=committee.status)
    if committee.status == CommitteeStatus.CANCELLED.value:
        raise CommitteeCancelled(code="R-COM-2", current_status=committee.status)
    return committee


async def _touch(session: AsyncSession, committee: Committee) -> None:
    committee.updated_at = utcnow()
    await flush_versioned(session)


async def create_committee(
    session: AsyncSession, principal: Principal, *, programme: Programme, data: CommitteeCreate
) -> Committee:
    """The prefect plans a committee of its own département (R-ACL-1: DINUM and ANCT never do,
    403). R-COM-2: its meeting date lies inside the programme and is not in the past (422)."""
    check_decider(principal)
    assert principal.departement is not None
    problem = meeting_date_problem(
        data.meeting_on,
        window_opens_on=programme.window_opens_on,
        results_deadline=programme.results_deadline,
        today=clock.today(),
    )
    if problem is not None:
        raise CommitteeDateRefused(
            f"{problem} (R-COM-2)",
            code="R-COM-2",
            errors=[ProblemItem(code="R-COM-2", message=problem, field="/meeting_on")],
        )
    committee = Committee(
        programme_id=programme.id,
        departement=principal.departement,
        title=data.title,
        meeting_on=data.meeting_on,
        members=[m.model_dump() for m in data.members],
        status=CommitteeStatus.PLANNED.value,
        created_by=principal.subject,
    )
    session.add(committee)
    await session.flush()
    await audit.record(  # R-AUDIT-1
        session,
        principal,
        object_type="committee",
        object_id=committee.id,
        departement=committee.departement,
        action="created",
        after=audit.snapshot(committee),
    )
    return committee


async def list_committees(
    session: AsyncSession,
    principal: Principal,
    *,
    page: PageParams,
    departement: str | None = None,
    status: CommitteeStatus | None = None,
    updated_since: datetime | None = None,
) -> tuple[list[tuple[Committee, int]], str | None]:
    """Committees in scope with their agenda size, one keyset page."""
    count = (
        select(func.count())
        .where(col(AgendaItem.committee_id) == col(Committee.id), col(AgendaItem.left_at).is_(None))
        .correlate(Committee)
        .scalar_subquery()
    )
    stmt = _scoped(select(Committee, count), principal)
    if departement is not None:
        stmt = stmt.where(col(Committee.departement) == departement)
    if status is not None:
        stmt = stmt.where(col(Committee.status) == status.value)
    if updated_since is not None:
        stmt = stmt.where(col(Committee.updated_at) >= updated_since)
    stmt = keyset_page(stmt, Committee.created_at, Committee.id, page)
    rows = [(row[0], int(row[1])) for row in (await session.execute(stmt)).all()]
    return split_page(rows, page, lambda r: (r[0].created_at, r[0].id))


@dataclass(frozen=True)
class AgendaRow:
    item: AgendaItem
    project: Project
    candidate: Candidate
    report: EligibilityReport
    score: ScoreSummary
    small_population: bool


@dataclass(frozen=True)
class CommitteeView:
    committee: Committee
    agenda: list[AgendaRow]


async def _agenda(session: AsyncSession, committee: Committee) -> list[AgendaRow]:
    """The agenda in R-COM-4 order: mean score descending (unscored last), small candidates
    first, then the earliest submission."""
    stmt = (
        select(AgendaItem, Project, Candidate)
        .join(Project, col(Project.id) == col(AgendaItem.project_id))
        .join(Candidate, col(Candidate.id) == col(Project.candidate_id))
        .where(col(AgendaItem.committee_id) == committee.id)
        .options(
            selectinload(Project.expense_lines),  # type: ignore[arg-type]
            selectinload(Project.funding_lines),  # type: ignore[arg-type]
        )
        .execution_options(populate_existing=True)
    )
    rows = (await session.execute(stmt)).all()
    programme = await session.get_one(Programme, committee.programme_id)
    # R-EVAL-3: the prefecture's mean only (ANCT's advisory totals are kept apart).
    scores = await projects_service.score_summaries(session, [row[1].id for row in rows])
    agenda = []
    for item, project, candidate in rows:
        agenda.append(
            AgendaRow(
                item=item,
                project=project,
                candidate=candidate,
                report=await projects_service.assess_project(session, project),
                score=scores.get(project.id, ScoreSummary()),
                # R-COM-4: candidates under the programme's population threshold are flagged.
                small_population=is_small_population(
                    candidate.population, programme.small_population_threshold
                ),
            )
        )
    return sorted(
        agenda,
        key=lambda r: agenda_sort_key(
            AgendaRank(
                mean_score_centi=r.score.mean_score_centi,
                small_population=r.small_population,
                submitted_at=r.project.submitted_at,
                tie_breaker=str(r.project.id),
            )
        ),
    )


async def committee_view(session: AsyncSession, committee: Committee) -> CommitteeView:
    return CommitteeView(committee, await _agenda(session, committee))


async def read_committee(
    session: AsyncSession, principal: Principal, *, committee_id: uuid.UUID
) -> CommitteeView:
    committee = await get_committee(session, principal, committee_id=committee_id)
    return await committee_view(session, committee)


# -- agenda (R-COM-2) --------------------------------------------------------------------------


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
    département's, an unknown one or one not in review), each on one open agenda at most (409);
    every refused dossier is named and nothing changes. A dossier that left the agenda
    (returned, withdrawn, closed) and is in review again comes back on it."""
    committee = await _writable(session, principal, committee_id, if_match)
    before = await _open_agenda(session, committee)
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
                ProblemItem(
                    code="R-COM-2",
                    message=f"{pid} n'est pas un dossier en instruction du département "
                    f"{committee.departement}.",
                    field=f"/add/{index}",
                    project_id=str(pid),
                )
            )
        elif pid in elsewhere and elsewhere[pid] != committee.id:
            failures.append(
                ProblemItem(
                    code="R-COM-2",
                    message=f"Le dossier « {project.title} » est déjà à l'ordre du jour du "
                    f"comité {elsewhere[pid]}, encore ouvert.",
                    field=f"/add/{index}",
                    project_id=str(pid),
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
            f"{committee.departement} peuvent y être inscrits (R-COM-2). Voir `errors`.",
            code="R-COM-2",
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
    await _touch(session, committee)
    await audit.record(  # R-AUDIT-1: the agenda before and after (nothing if unchanged)
        session,
        principal,
        object_type="committee",
        object_id=committee.id,
        departement=committee.departement,
        action="agenda_changed",
        before={"agenda": before},
        after={"agenda": await _open_agenda(session, committee)},
    )
    return await committee_view(session, committee)


async def _open_agenda(session: AsyncSession, committee: Committee) -> list[str]:
    """The dossiers on the committee's open agenda, as sorted ids (for the audit trail)."""
    ids = await session.execute(
        select(AgendaItem.project_id).where(
            col(AgendaItem.committee_id) == committee.id, col(AgendaItem.is_open).is_(True)
        )
    )
    return sorted(str(i) for i in ids.scalars().all())


# -- decisions ---------------------------------------------------------------------------------


def _cap_failures(report: EligibilityReport, project: Project, amount: int) -> list[RuleFailure]:
    """R-CAP-1 (≤ cap, ≤ requested), R-CAP-3 (forfait), R-CAP-2 (public funding ≤ cost)."""
    failures = [
        RuleFailure(f.code, f.message, "/granted_cents")
        for f in check_grant_amount(
            amount_cents=amount,
            requested_cents=project.requested_cents,
            max_grant_cents=report.max_grant_cents,
            forfait_cents=report.forfait_cents,
            funding_cap_cents=report.funding_cap_cents,
        )
    ]
    if amount + report.other_public_funding_cents > report.cost.total_cost_cents:
        failures.append(
            RuleFailure(
                "R-CAP-2",
                f"Montant accordé ({euros(amount)}) et autres financements publics "
                f"({euros(report.other_public_funding_cents)}) dépassent le coût total du "
                f"projet ({euros(report.cost.total_cost_cents)}).",
                "/granted_cents",
            )
        )
    return failures


async def record_decision(
    session: AsyncSession,
    principal: Principal,
    *,
    committee_id: uuid.UUID,
    if_match: str | None,
    data: AcceptedDecision | RejectedDecision | DeferredDecision,
) -> CommitteeView:
    """Record (or replace) the committee's decision on a dossier of its agenda. An amount that
    breaks a cap is refused at once (422); the first decision opens the session (R-COM-2).

    R-ACL-1: DINUM and ANCT never decide (403). R-COM-2: not before the meeting date (409).
    R-EVAL-2: the agent who declared a conflict of interest on the dossier does not (403)."""
    committee = await _writable(session, principal, committee_id, if_match)
    today = clock.today()
    if today < committee.meeting_on:
        raise DecisionRefused(
            f"Le comité se réunit le {committee.meeting_on.isoformat()} : aucune décision ne "
            f"peut être enregistrée avant sa séance (aujourd'hui : {today.isoformat()}) "
            "(R-COM-2).",
            code="R-COM-2",
            meeting_on=committee.meeting_on.isoformat(),
        )
    item = (
        await session.execute(
            select(AgendaItem).where(
                col(AgendaItem.committee_id) == committee.id,
                col(AgendaItem.project_id) == data.project_id,
                col(AgendaItem.is_open),
            )
        )
    ).scalar_one_or_none()
    if item is None:
        raise DecisionRefused(
            "Ce dossier n'est pas à l'ordre du jour du comité (R-COM-2).",
            code="R-COM-2",
            errors=[
                ProblemItem(
                    code="R-COM-2",
                    message="Dossier absent de l'ordre du jour.",
                    field="/project_id",
                )
            ],
        )
    project = await projects_service.get_project(session, principal, project_id=data.project_id)
    if project.status != Status.IN_REVIEW.value:
        raise DecisionRefused(
            f"Le dossier n'est plus en instruction (état : {project.status}) (R-COM-2).",
            code="R-COM-2",
            current_status=project.status,
        )
    if await _recused(session, project.id, principal.subject):
        raise RecusedDecider(
            "Vous avez déclaré un conflit d'intérêts sur ce dossier : un autre agent de la "
            "préfecture enregistre la décision du comité (R-EVAL-2).",
            code="R-EVAL-2",
        )
    report = await projects_service.assess_project(session, project)
    granted = data.granted_cents if isinstance(data, AcceptedDecision) else None
    if granted is not None:
        raise_failures(_cap_failures(report, project, granted))  # 422 at once
    before = audit.snapshot(item, DECISION_FIELDS)
    item.outcome = data.outcome.value
    item.granted_cents = granted
    item.motivation = data.motivation
    item.decided_by = principal.subject
    item.decided_at = utcnow()
    item.eligible_cost_cents = report.cost.eligible_cost_cents
    item.max_grant_cents = report.max_grant_cents
    item.forfait_cents = report.forfait_cents
    if committee.status == CommitteeStatus.PLANNED.value:
        committee.status = CommitteeStatus.IN_SESSION.value  # R-COM-2: the session opens
    await _touch(session, committee)
    # R-AUDIT-1: a decision recorded in session (final at the close, whose transitions are
    # what subscribers receive as decision.recorded).
    await audit.record(
        session,
        principal,
        object_type="committee",
        object_id=committee.id,
        departement=committee.departement,
        action="decision_recorded",
        before={"project_id": str(item.project_id), **before},
        after={"project_id": str(item.project_id), **audit.snapshot(item, DECISION_FIELDS)},
    )
    return await committee_view(session, committee)


DECISION_FIELDS = ("outcome", "granted_cents", "motivation")


async def _recused(session: AsyncSession, project_id: uuid.UUID, subject: str) -> bool:
    """R-EVAL-2: whether the agent `subject` declared a conflict of interest on the dossier."""
    found = await session.execute(
        select(Evaluation.id).where(
            col(Evaluation.project_id) == project_id,
            col(Evaluation.evaluator_subject) == subject,
            col(Evaluation.recused),
        )
    )
    return found.first() is not None


# -- close (R-COM-3) ---------------------------------------------------------------------------


def _reference(committee: Committee, item: AgendaItem) -> str:
    """The decision's reference, carried by the grant and its ledger movement."""
    return (
        f"Comité {committee.departement} du {committee.meeting_on.isoformat()} "
        f"(comité {committee.id}, décision {item.id})"
    )


def _failure(project: Project | AgendaItem, code: str, message: str) -> ProblemItem:
    pid = project.id if isinstance(project, Project) else project.project_id
    return ProblemItem(code=code, message=message, field=f"/projects/{pid}", project_id=str(pid))


async def _available(session: AsyncSession, envelope_id: uuid.UUID) -> int:
    envelope = (
        await session.execute(
            select(Envelope)
            .where(col(Envelope.id) == envelope_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return envelope.allocated_cents - envelope.committed_cents


async def close_committee(
    session: AsyncSession, principal: Principal, *, committee_id: uuid.UUID, if_match: str | None
) -> CommitteeView:
    """R-COM-3: make every decision final in one transaction, or change nothing (409 listing
    every failing dossier with its rule, and for the envelope the shortfall in cents).
    R-COM-2: a committee with no decision is never closed (409). R-ACL-1: DINUM and ANCT
    never close (403)."""
    committee = await _writable(session, principal, committee_id, if_match)
    view = await committee_view(session, committee)
    rows = [r for r in view.agenda if r.item.is_open]
    if not any(r.item.outcome is not None for r in rows):
        # R-COM-2: a committee with no decision is cancelled, never closed (a close would
        # reset R-COM-1's count with nothing decided).
        raise CloseRefused(
            "Le comité n'a enregistré aucune décision : il ne peut pas être clos, seulement "
            "annulé (R-COM-2).",
            code="R-COM-2",
            current_status=committee.status,
        )
    failures = [
        _failure(r.project, "R-COM-3", f"« {r.project.title} » : aucune décision enregistrée.")
        for r in rows
        if r.item.outcome is None
    ]
    accepted = [r for r in rows if r.item.outcome == Outcome.ACCEPTED.value]
    accepted_total = sum(r.item.granted_cents or 0 for r in accepted)
    programme = await session.get_one(Programme, committee.programme_id)
    envelope = await budgets_repository.envelope_for(session, programme.id, committee.departement)
    committed_here = 0
    envelope_failed = False
    for row in accepted:
        item, amount = row.item, row.item.granted_cents or 0
        try:
            async with session.begin_nested():
                # R-CAP-1..4 and R-REF-2, checked again at the moment the money moves.
                await grants_service.commit_grant(
                    session,
                    principal,
                    project_id=item.project_id,
                    amount_cents=amount,
                    reference=_reference(committee, item),
                )
        except AppError as exc:
            envelope_failed |= exc.code == "R-CAP-4"
            failures.append(_failure(item, exc.code, f"« {row.project.title} » : {exc.detail}"))
            continue
        committed_here += amount
        # Read once the envelope row is ours (locked until the commit): exact under concurrency.
        item_after = await _available(session, envelope.id) if envelope is not None else 0
        item.eligible_cost_cents = row.report.cost.eligible_cost_cents
        item.max_grant_cents = row.report.max_grant_cents
        item.forfait_cents = row.report.forfait_cents
        item.envelope_available_before_cents = item_after + amount
        item.envelope_available_after_cents = item_after
        item.reference = _reference(committee, item)
    for row in rows:
        if row.item.outcome != Outcome.REJECTED.value:
            continue
        try:
            async with session.begin_nested():
                await projects_service.reject(
                    session,
                    principal,
                    project_id=row.item.project_id,
                    motivation=row.item.motivation or "",
                )
        except AppError as exc:
            failures.append(_failure(row.item, exc.code, f"« {row.project.title} » : {exc.detail}"))
    if envelope is None and accepted:
        envelope_failed = True
    if envelope_failed:  # commit_grant's conditional UPDATE is the authority (R-CAP-4)
        # Measured against what the envelope has without this close's own commitments.
        available = (await _available(session, envelope.id) if envelope else 0) + committed_here
        shortfall = max(0, accepted_total - available)
        failures.insert(
            0,
            ProblemItem(
                code="R-CAP-4",
                message=(
                    f"L'enveloppe du département {committee.departement} ne couvre pas les "
                    f"subventions accordées ({euros(accepted_total)} pour "
                    f"{euros(available)} disponibles) : il manque {euros(shortfall)}."
                ),
                field="/envelope",
                shortfall_cents=shortfall,
                available_cents=available,
                accepted_cents=accepted_total,
            ),
        )
    if failures:
        envelope_items = [f for f in failures if f.field == "/envelope"]
        raise CloseRefused(
            f"Le comité ne peut pas être clos : {len(failures)} point(s) en échec, rien n'a été "
            "modifié (R-COM-3). Voir `errors`.",
            code="R-COM-3",
            errors=failures,
            shortfall_cents=getattr(envelope_items[0], "shortfall_cents", 0)
            if envelope_items
            else 0,
        )
    for row in rows:
        row.item.is_open = False  # deferred ones leave the agenda: free for a later committee
    committee.status = CommitteeStatus.CLOSED.value
    committee.closed_at = utcnow()
    committee.closed_by = principal.subject
    after = await _available(session, envelope.id) if envelope is not None else 0
    committee.envelope_available_before_cents = after + committed_here
    committee.envelope_available_after_cents = after
    await _touch(session, committee)
    # R-AUDIT-1 / R-HOOK-1: the close, after every savepoint (committee.closed to subscribers).
    await audit.record(
        session,
        principal,
        object_type="committee",
        object_id=committee.id,
        departement=committee.departement,
        action="closed",
        after={
            "status": committee.status,
            "closed_at": summarise(committee.closed_at),
            "envelope_available_before_cents": committee.envelope_available_before_cents,
            "envelope_available_after_cents": committee.envelope_available_after_cents,
            "decisions": [
                {
                    "project_id": str(r.item.project_id),
                    "outcome": r.item.outcome,
                    "granted_cents": r.item.granted_cents,
                }
                for r in rows
            ],
        },
    )
    return await committee_view(session, committee)


# -- minutes and the candidate's view ----------------------------------------------------------


async def project_decision(
    session: AsyncSession, principal: Principal, *, project_id: uuid.UUID
) -> tuple[AgendaItem, Committee]:
    """The committee decision on a dossier in scope: for its candidate only once the committee
    is closed (404 before); State roles also see a pending decision of an open committee."""
    project = await projects_service.get_project(
        session, principal, project_id=project_id, with_lines=False
    )
    stmt = (
        select(AgendaItem, Committee)
        .join(Committee, col(Committee.id) == col(AgendaItem.committee_id))
        .where(col(AgendaItem.project_id) == project.id, col(AgendaItem.outcome).is_not(None))
    )
    if principal.role is Role.CANDIDATE:
        stmt = stmt.where(col(Committee.status) == CommitteeStatus.CLOSED.value)
    rows = [(r[0], r[1]) for r in (await session.execute(stmt)).all()]
    if not rows:
        raise DecisionNotFound()
    pending = [r for r in rows if r[1].status != CommitteeStatus.CLOSED.value]
    if pending:
        return pending[0]
    return max(rows, key=lambda r: r[1].closed_at or r[1].updated_at)


@dataclass(frozen=True)
class StrandTotals:
    strand: str
    accepted_count: int = 0
    accepted_cents: int = 0
    rejected_count: int = 0
    deferred_count: int = 0


def strand_totals(agenda: Sequence[AgendaRow]) -> list[StrandTotals]:
    """The minutes' totals per strand: accepted count and amounts, rejected, deferred."""
    totals: dict[str, dict[str, int]] = {}
    for row in agenda:
        if row.item.left_at is not None:  # R-COM-2: left the agenda, decided nothing
            continue
        t = totals.setdefault(
            row.project.strand,
            {"accepted_count": 0, "accepted_cents": 0, "rejected_count": 0, "deferred_count": 0},
        )
        if row.item.outcome == Outcome.ACCEPTED.value:
            t["accepted_count"] += 1
            t["accepted_cents"] += row.item.granted_cents or 0
        elif row.item.outcome == Outcome.REJECTED.value:
            t["rejected_count"] += 1
        elif row.item.outcome == Outcome.DEFERRED.value:
            t["deferred_count"] += 1
    return [StrandTotals(strand, **values) for strand, values in sorted(totals.items())]
