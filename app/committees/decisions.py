"""Decisions: the committee's decision on each dossier of its agenda, recorded in session
(R-COM-2, R-CAP-1..3, R-EVAL-2), and the decision a dossier's reader sees (the candidate only
once the committee is closed).

A decision is final only at the close (`app.committees.close`); until then it may be replaced,
and it is dropped when its dossier leaves the agenda (`app.committees.agenda`)."""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any

from sqlalchemy import Select, String, and_, bindparam, select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.audit import service as audit
from app.auth.principal import Principal, Role
from app.budgets.rules import check_grant_amount
from app.committees import access
from app.committees.errors import DecisionNotFound, DecisionRefused, RecusedDecider
from app.committees.models import AgendaItem, Committee
from app.committees.rules import CommitteeStatus
from app.committees.schemas import AcceptedDecision, DeferredDecision, RejectedDecision
from app.committees.views import CommitteeView, committee_view
from app.core import clock
from app.core.errors import ProblemItem
from app.core.rawsql import ReadConnection
from app.core.rules import RuleFailure, raise_failures
from app.core.types import utcnow
from app.evaluations.models import Evaluation
from app.projects import (
    assessment as projects_assessment,
    reads as projects_reads,
    repository as projects_repository,
)
from app.projects.display import euros
from app.projects.eligibility_rules import EligibilityReport
from app.projects.errors import ProjectNotFound
from app.projects.lifecycle_rules import Status
from app.projects.models import Project

# The decision on an agenda item, as the audit trail keeps it.
DECISION_FIELDS = ("outcome", "granted_cents", "motivation")


def record_terms(item: AgendaItem, report: EligibilityReport) -> None:
    """What the decision is taken against: recorded with it, refreshed at the close."""
    item.eligible_cost_cents = report.cost.eligible_cost_cents
    item.max_grant_cents = report.max_grant_cents
    item.forfait_cents = report.forfait_cents


def drop_decision(item: AgendaItem) -> dict[str, Any]:
    """R-COM-2: the decision on a dossier that left the agenda is dropped; returns what it was
    (the audit trail keeps it)."""
    dropped = audit.snapshot(item, DECISION_FIELDS)
    item.outcome = item.granted_cents = item.motivation = None
    item.decided_by = item.decided_at = None
    return dropped


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
    committee = await access.writable(session, principal, committee_id, if_match)
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
    project = await projects_reads.get_project(session, principal, project_id=data.project_id)
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
    report = await projects_assessment.assess_project(session, project)
    granted = data.granted_cents if isinstance(data, AcceptedDecision) else None
    if granted is not None:
        raise_failures(_cap_failures(report, project, granted))  # 422 at once
    before = audit.snapshot(item, DECISION_FIELDS)
    item.outcome = data.outcome.value
    item.granted_cents = granted
    item.motivation = data.motivation
    item.decided_by = principal.subject
    item.decided_at = utcnow()
    record_terms(item, report)
    if committee.status == CommitteeStatus.PLANNED.value:
        committee.status = CommitteeStatus.IN_SESSION.value  # R-COM-2: the session opens
    # R-AUDIT-1: a decision recorded in session (final at the close, whose transitions are
    # what subscribers receive as decision.recorded).
    await access.changed(
        session,
        principal,
        committee,
        "decision_recorded",
        before={"project_id": str(item.project_id), **before},
        after={"project_id": str(item.project_id), **audit.snapshot(item, DECISION_FIELDS)},
    )
    return await committee_view(session, committee)


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


_PROJECT = Project.__table__  # type: ignore[attr-defined]
_ITEM = AgendaItem.__table__  # type: ignore[attr-defined]
_COMMITTEE = Committee.__table__  # type: ignore[attr-defined]


@cache
def _decision_stmt(kind: str, closed_only: bool) -> Select[Any]:
    """The dossier in a scope of this kind (R-ACL-1) and the decisions recorded on it with their
    committees (`closed_only`: of closed committees only), one row per decision, one without
    when there is none (an outer join: DecisionNotFound told from ProjectNotFound). Built once
    per shape, executed with parameters (issue 28)."""
    item, committee = _ITEM.c, _COMMITTEE.c
    on = and_(item.project_id == _PROJECT.c.id, item.outcome.is_not(None))
    if closed_only:
        on = and_(on, committee.status == CommitteeStatus.CLOSED.value)
    stmt = sa_select(
        _PROJECT.c.id,
        item.id.label("item_id"),
        item.project_id,
        item.outcome,
        item.granted_cents,
        item.motivation,
        item.decided_at,
        item.reference,
        committee.id.label("committee_id"),
        committee.meeting_on,
        committee.status,
        committee.closed_at,
        committee.updated_at,
    ).select_from(_PROJECT.outerjoin(_ITEM.join(_COMMITTEE, committee.id == item.committee_id), on))
    stmt = stmt.where(_PROJECT.c.id == bindparam("project_id"))
    clause = projects_repository.scope_clause(
        kind, bindparam(projects_repository.SCOPE, type_=String)
    )
    return stmt if clause is None else stmt.where(clause)


async def project_decision(
    connection: ReadConnection, principal: Principal, *, project_id: uuid.UUID
) -> dict[str, Any]:
    """`ProjectDecisionRead`'s fields: the committee decision on a dossier in scope (404
    ProjectNotFound otherwise, R-ACL-1): for its candidate only once the committee is closed
    (404 DecisionNotFound before); State roles also see a pending decision of an open
    committee. One statement on the lean read path (issue 28)."""
    kind = projects_repository.scope_of(principal)[0]
    stmt = _decision_stmt(kind, principal.role is Role.CANDIDATE)
    params = {"project_id": project_id, **projects_repository.scope_params(principal)}
    rows = (await connection.execute(stmt, params)).mappings().all()
    if not rows:
        raise ProjectNotFound()
    if rows[0]["item_id"] is None:
        raise DecisionNotFound()
    pending = [r for r in rows if r["status"] != CommitteeStatus.CLOSED.value]
    row = pending[0] if pending else max(rows, key=lambda r: r["closed_at"] or r["updated_at"])
    assert row["decided_at"] is not None  # a recorded decision is dated
    return {
        "project_id": row["project_id"],
        "committee_id": row["committee_id"],
        "committee_meeting_on": row["meeting_on"],
        "committee_status": row["status"],
        "final": row["status"] == CommitteeStatus.CLOSED.value,
        "outcome": row["outcome"],
        "granted_cents": row["granted_cents"],
        "motivation": row["motivation"],
        "decided_at": row["decided_at"],
        "reference": row["reference"],
    }
