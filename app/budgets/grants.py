"""Grants: the commitment of an accepted dossier on its envelope (R-CAP-1..4, R-REF-2) with
its frozen terms (R-PAY-4), the release of its unpaid part (R-CAP-5) at cancellation or
settlement. The grant view (grant, convention, payments) is `app.budgets.grant_reads`."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.budgets import repository
from app.budgets.errors import EnvelopeExhausted, GrantNotFound, GrantRefused
from app.budgets.models import Grant
from app.budgets.movements import Delta, exhausted, move
from app.budgets.rules import (
    ACTIVE,
    MovementKind,
    check_grant_amount,
    unpaid_part,
)
from app.candidates import service as candidates_service
from app.candidates.rules import Verification
from app.core.clock import PARIS
from app.core.concurrency import check_if_match
from app.core.db import add_unique
from app.core.types import utcnow
from app.programme import service as programme_service
from app.programme.models import Programme
from app.programme.rules import strand_rules
from app.projects import (
    assessment as projects_assessment,
    reads as projects_reads,
    transitions as projects_transitions,
)
from app.projects.display import euros
from app.projects.eligibility_rules import EligibilityReport
from app.projects.errors import InvalidTransition
from app.projects.lifecycle_rules import Action, Status
from app.projects.models import Project


async def commit_grant(
    session: AsyncSession,
    principal: Principal,
    *,
    project_id: uuid.UUID,
    amount_cents: int,
    reference: str | None = None,
) -> Grant:
    """Accept a dossier in review and commit its grant against its département's envelope.

    R-CAP-1/R-CAP-3: amount ≤ the dossier's maximum grant; R-CAP-2: amount + other public
    funding ≤ total cost. R-CAP-4: never above what the envelope has available, even under
    concurrent calls (one conditional UPDATE). A project is granted at most once (UNIQUE on
    grant.project_id). Used by committee decisions.
    Raises ProjectNotFound (404), InvalidTransition (409), GrantRefused (409, R-REF-2 for a
    candidate not verified, R-CAP-*), EnvelopeExhausted (409).
    """
    project = await projects_reads.get_project(session, principal, project_id=project_id)
    if project.status != Status.IN_REVIEW.value:
        raise InvalidTransition(
            f"Seul un dossier en instruction peut être accepté (état : {project.status}).",
            code="R-FLOW-1",
            current_status=project.status,
            requested_status=Status.ACCEPTED.value,
        )
    # R-REF-2: no acceptance while the candidate's identity is not verified by its prefect.
    verification = await candidates_service.verification_of(
        session, candidate_id=project.candidate_id
    )
    if verification is not Verification.VERIFIED:
        raise GrantRefused(
            "L'identité du candidat n'est pas vérifiée par le préfet de son département "
            f"(état : {verification.value}) : ce dossier ne peut pas être accepté (R-REF-2).",
            code="R-REF-2",
            verification=verification.value,
        )
    report = await projects_assessment.assess_project(session, project)
    # R-CAP-1 (≤ cap and ≤ the amount requested), R-CAP-3 (≤ forfait)
    failures = check_grant_amount(
        amount_cents=amount_cents,
        requested_cents=project.requested_cents,
        max_grant_cents=report.max_grant_cents,
        forfait_cents=report.forfait_cents,
        funding_cap_cents=report.funding_cap_cents,
    )
    if failures:
        raise GrantRefused(
            " ; ".join(f.message for f in failures),
            code=failures[0].code,
            errors=[f.as_item() for f in failures],
            max_grant_cents=report.max_grant_cents,
            requested_cents=amount_cents,
        )
    public_cents = amount_cents + report.other_public_funding_cents
    if public_cents > report.cost.total_cost_cents:  # R-CAP-2 applies to the granted amount too
        raise GrantRefused(
            f"Montant accordé ({euros(amount_cents)}) et autres financements publics "
            f"({euros(report.other_public_funding_cents)}) dépassent le coût total du projet "
            f"({euros(report.cost.total_cost_cents)}).",
            code="R-CAP-2",
            max_grant_cents=max(
                0, report.cost.total_cost_cents - report.other_public_funding_cents
            ),
            requested_cents=amount_cents,
        )
    envelope = await repository.envelope_for(session, project.programme_id, project.departement)
    if envelope is None:
        raise EnvelopeExhausted(
            f"Le département {project.departement} n'a pas d'enveloppe allouée.", code="R-CAP-4"
        )
    movement = await move(
        session,
        principal,
        envelope_id=envelope.id,
        kind=MovementKind.COMMITMENT,
        delta=Delta(committed=amount_cents),
        project_id=project.id,
        reference=reference,
    )
    if movement is None:
        fresh = await repository.fresh_envelope(session, envelope.id)
        raise exhausted(
            fresh,
            f"L'enveloppe du département {project.departement} ne peut pas couvrir "
            f"{euros(amount_cents)} (disponible : "
            f"{euros(fresh.allocated_cents - fresh.committed_cents)}).",
        )
    grant = Grant(
        project_id=project.id,
        envelope_id=envelope.id,
        amount_cents=amount_cents,
        reference=reference,
        **await _frozen_terms(session, project, report),
    )
    await add_unique(  # UNIQUE (project): a concurrent acceptance won
        session, grant, GrantRefused("Ce dossier a déjà une subvention.", code="R-CAP-4")
    )
    await projects_transitions.advance(session, principal, project, Action.ACCEPT, reference)
    await audit_grant(session, principal, project, grant, GRANT_COMMITTED, before=None)
    return grant


async def _frozen_terms(
    session: AsyncSession, project: Project, report: EligibilityReport
) -> dict[str, Any]:
    """R-PAY-4: what governs the grant for life, as the programme stands at the decision (the
    committee's close): eligible cost, aid rate, forfait and its tier, payment caps, the
    programme's version and the grid version of the dossier's strand."""
    programme = await session.get_one(Programme, project.programme_id)
    grid = await programme_service.current_grid(session, programme.id, project.strand)
    strand = strand_rules(programme, project.strand)
    return {
        "eligible_cost_cents": report.cost.eligible_cost_cents,
        # R-CAP-1 as it governed the decision: the strand's own rate, else the programme's.
        "aid_rate_bps": (
            programme.funding_cap_rate_bps if strand is None else strand.funding_cap_rate_bps
        ),
        "forfait_cents": report.forfait_cents,
        "forfait_tier": report.forfait_tier,  # the tier the report found (R-CAP-3)
        "advance_cap_bps": programme.advance_cap_bps,
        "pre_final_payment_cap_bps": programme.pre_final_payment_cap_bps,
        "programme_version": programme.version,
        "grid_version": None if grid is None else grid.version,
    }


GRANT_COMMITTED = "committed"
"""Audit action of a commitment (webhook event `grant.committed`)."""


async def audit_grant(
    session: AsyncSession,
    principal: Principal,
    project: Project,
    grant: Grant,
    action: str,
    *,
    before: dict[str, Any] | None,
) -> None:
    """R-AUDIT-1: an event on the grant of a dossier (commitment, convention, report, …)."""
    await audit.record(
        session,
        principal,
        object_type="grant",
        object_id=grant.id,
        departement=project.departement,
        action=action,
        before=before,
        after={**audit.snapshot(grant, exclude=("committed_at",)), "project_id": project.id},
    )


def decided_on(grant: Grant) -> date:
    """The day of the decision that granted it (Europe/Paris), as SCDL `dateConvention` needs
    and R-PAY-3 measures the convention against."""
    return decided_on_day(grant.committed_at)


def decided_on_day(committed_at: datetime) -> date:
    """`decided_on` from the grant's `committed_at` (a row read without the ORM, issue 28)."""
    return committed_at.astimezone(PARIS).date()


async def locked_grant(session: AsyncSession, project: Project) -> Grant:
    """The dossier's grant, locked until the end of the transaction, else 404."""
    grant = await repository.grant_for_update(session, project.id)
    if grant is None:
        raise GrantNotFound()
    return grant


async def release(
    session: AsyncSession,
    principal: Principal,
    project: Project,
    grant: Grant,
    *,
    closed_status: str,
    reference: str | None,
) -> None:
    """R-CAP-5: give the unpaid part of a grant back to the envelope, closing the grant (on
    cancellation here, on settlement in `payments`)."""
    before = audit.snapshot(grant, exclude=("committed_at",))
    unpaid = unpaid_part(grant.amount_cents, grant.paid_cents)
    if unpaid:
        movement = await move(
            session,
            principal,
            envelope_id=grant.envelope_id,
            kind=MovementKind.DECOMMITMENT,
            delta=Delta(committed=-unpaid),
            project_id=project.id,
            reference=reference,
        )
        assert movement is not None  # committed − unpaid ≥ paid always holds
    grant.released_cents = unpaid
    grant.status = closed_status
    grant.closed_at = utcnow()
    grant.updated_at = utcnow()
    await session.flush()
    await audit_grant(session, principal, project, grant, closed_status, before=before)


async def cancel_grant(
    session: AsyncSession,
    principal: Principal,
    *,
    project_id: uuid.UUID,
    if_match: str | None,
    reason: str,
) -> Grant:
    """Cancel an accepted grant (accepted or under convention): its unpaid part returns to
    the envelope (R-CAP-5). Raises 404, 412/428, 409."""
    project = await projects_reads.get_project(session, principal, project_id=project_id)
    check_if_match(if_match, project.version)
    await projects_transitions.check_transition_for(session, principal, project, Action.CANCEL)
    grant = await locked_grant(session, project)
    if grant.status != ACTIVE:
        # R-CAP-5: the dossier was read before the grant's lock; a concurrent balance payment
        # (or cancellation) may have settled the grant meanwhile and released its unpaid part,
        # which must not be released twice.
        raise GrantRefused(
            f"La subvention n'est plus active (état : {grant.status}).",
            code="R-FLOW-1",
            current_status=grant.status,
        )
    await release(session, principal, project, grant, closed_status="cancelled", reference=reason)
    await projects_transitions.advance(session, principal, project, Action.CANCEL, reason)
    return grant
