"""Closing a committee (R-COM-3): every decision made final in one transaction, or nothing.

Every accepted grant goes through `budgets.grants.commit_grant` (R-CAP-1..4, R-REF-2), every
rejection through the projects' lifecycle, each in a SAVEPOINT so that every failure is
collected; any failure raises, and the request's rollback undoes it all.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.audit.rules import summarise
from app.auth.principal import Principal
from app.budgets import grants as grants_service, repository as budgets_repository
from app.budgets.models import Envelope
from app.committees import access
from app.committees.decisions import record_terms
from app.committees.errors import CloseRefused
from app.committees.models import AgendaItem, Committee
from app.committees.rules import CommitteeStatus, Outcome
from app.committees.views import CommitteeView, committee_view
from app.core.errors import AppError, ProblemItem
from app.core.types import utcnow
from app.programme.models import Programme
from app.projects import transitions as projects_transitions
from app.projects.display import euros
from app.projects.models import Project


def _reference(committee: Committee, item: AgendaItem) -> str:
    """The decision's reference, carried by the grant and its ledger movement."""
    return (
        f"Comité {committee.departement} du {committee.meeting_on.isoformat()} "
        f"(comité {committee.id}, décision {item.id})"
    )


def _failure(project: Project | AgendaItem, code: str, message: str) -> ProblemItem:
    pid = project.id if isinstance(project, Project) else project.project_id
    return ProblemItem(code=code, message=message, field=f"/projects/{pid}", project_id=str(pid))


async def _available(session: AsyncSession, envelope: Envelope | None) -> int:
    """What the envelope has left, read again (nothing without an envelope)."""
    if envelope is None:
        return 0
    fresh = (
        await session.execute(
            select(Envelope)
            .where(col(Envelope.id) == envelope.id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return fresh.allocated_cents - fresh.committed_cents


async def close_committee(
    session: AsyncSession, principal: Principal, *, committee_id: uuid.UUID, if_match: str | None
) -> CommitteeView:
    """R-COM-3: make every decision final in one transaction, or change nothing (409 listing
    every failing dossier with its rule, and for the envelope the shortfall in cents).
    R-COM-2: a committee with no decision is never closed (409). R-ACL-1: DINUM and ANCT
    never close (403)."""
    committee = await access.writable(session, principal, committee_id, if_match)
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
        item_after = await _available(session, envelope)
        record_terms(item, row.report)
        item.envelope_available_before_cents = item_after + amount
        item.envelope_available_after_cents = item_after
        item.reference = _reference(committee, item)
    for row in rows:
        if row.item.outcome != Outcome.REJECTED.value:
            continue
        try:
            async with session.begin_nested():
                await projects_transitions.reject(
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
        available = await _available(session, envelope) + committed_here
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
    after = await _available(session, envelope)
    committee.envelope_available_before_cents = after + committed_here
    committee.envelope_available_after_cents = after
    # R-AUDIT-1 / R-HOOK-1: the close, after every savepoint (committee.closed to subscribers).
    await access.changed(
        session,
        principal,
        committee,
        "closed",
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
