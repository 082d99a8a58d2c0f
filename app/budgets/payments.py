"""Payments of a grant: the signed convention and its schedule (R-PAY-1..3, R-CAP-5), the
payments (R-PAY-1, R-PAY-2, R-PAY-4), the final report that opens the balance (R-PAY-2), and
the settlement of a grant paid off."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.audit import service as audit
from app.auth.principal import Principal
from app.budgets import repository
from app.budgets.errors import ConventionRefused, GrantRefused, PaymentRefused
from app.budgets.grants import audit_grant, decided_on, locked_grant, release
from app.budgets.models import Convention, Grant, Payment
from app.budgets.movements import Delta, move
from app.budgets.rules import (
    ACTIVE,
    GrantState,
    MovementKind,
    PaymentCaps,
    PaymentKind,
    ScheduledPayment,
    check_convention_dates,
    check_event_date,
    check_not_before,
    check_payment,
    check_schedule,
    check_schedule_total,
    final_report_grant_failure,
    final_report_refusal,
    final_report_state_failure,
)
from app.budgets.schemas import ConventionCreate, FinalReportCreate, PaymentCreate
from app.core import clock
from app.core.concurrency import check_if_match, flush_versioned
from app.core.rules import raise_failures
from app.core.types import utcnow
from app.programme.rules import Step
from app.projects import (
    actions as projects_actions,
    guards as projects_guards,
    hooks as projects_hooks,
    reads as projects_reads,
    transitions as projects_transitions,
)
from app.projects.errors import InvalidTransition
from app.projects.lifecycle_rules import Action, ProjectAction, Status, state_allows
from app.projects.models import Project

PAYMENT_RECORDED = "recorded"
"""Audit action of a payment, object `payment` (webhook event `payment.recorded`)."""


def _payment_caps(grant: Grant) -> PaymentCaps:
    """R-PAY-4: the caps frozen at the decision, never today's programme."""
    return PaymentCaps(
        advance_cap_bps=grant.advance_cap_bps,
        pre_final_payment_cap_bps=grant.pre_final_payment_cap_bps,
    )


async def _convention_of(session: AsyncSession, project: Project) -> Convention:
    convention = (
        await session.execute(select(Convention).where(Convention.project_id == project.id))
    ).scalar_one_or_none()
    assert convention is not None  # under_convention implies a signed convention
    return convention


async def sign_convention(
    session: AsyncSession,
    principal: Principal,
    *,
    project_id: uuid.UUID,
    if_match: str | None,
    data: ConventionCreate,
) -> Grant:
    """Record the signed convention of an accepted dossier (→ under_convention).

    R-PAY-3: plausible signature date; the schedule never exceeds the grant (R-CAP-5) and
    respects R-PAY-1 and R-PAY-2. Raises 404, 412/428, 409, 422.
    """
    project = await projects_reads.get_project(session, principal, project_id=project_id)
    check_if_match(if_match, project.version)
    await projects_transitions.check_transition_for(
        session, principal, project, Action.SIGN_CONVENTION
    )
    grant = await locked_grant(session, project)
    # R-PAY-3: signed on/after the decision, not in the future; the schedule within R-CAP-5,
    # R-PAY-1 and R-PAY-2.
    schedule = [ScheduledPayment(item.kind, item.amount_cents) for item in data.schedule]
    over = check_schedule_total(schedule, grant.amount_cents)
    if over:  # a refused transition lists what the caller may do instead (issue 27)
        raise_failures(
            over,
            error=ConventionRefused,
            allowed_actions=await _actions(session, principal, project),
        )
    raise_failures(  # 422: implausible input, and the documents it lacks (R-DOC-1)
        check_convention_dates(data.signed_on, decided_on(grant), clock.today())
        + check_schedule(schedule, grant.amount_cents, _payment_caps(grant))
        + await projects_hooks.step_failures(session, project, Step.CONVENTION)
    )
    await projects_transitions.advance(
        session, principal, project, Action.SIGN_CONVENTION, data.reference
    )
    convention = Convention(
        project_id=project.id,
        reference=data.reference,
        kind=data.kind.value,
        signed_on=data.signed_on,
        schedule=[item.model_dump(mode="json") for item in data.schedule],
        created_by=principal.subject,
    )
    session.add(convention)
    await session.flush()
    await audit.record(  # R-AUDIT-1
        session,
        principal,
        object_type="convention",
        object_id=convention.id,
        departement=project.departement,
        action="signed",
        after=audit.snapshot(convention),
    )
    return grant


async def _actions(
    session: AsyncSession, principal: Principal, project: Project, *, reread: bool = False
) -> list[str]:
    """What the caller may do now, for a 409's `allowed_actions` (issue 12; every 409 of a
    payment, issue 27). `reread` when a concurrent write may have moved the dossier on since it
    was read (the grant found closed under its lock): the offer follows its state now."""
    if reread:
        await session.refresh(project, attribute_names=["status"])
    return [a.value for a in await projects_actions.actions_now(session, principal, project)]


async def check_project_scope(
    session: AsyncSession, principal: Principal, *, project_id: uuid.UUID
) -> None:
    """404 unless the dossier is in the caller's scope (R-ACL-1): checked before an
    Idempotency-Key replay, which must never answer what a fresh request would refuse."""
    await projects_reads.get_project(session, principal, project_id=project_id, with_lines=False)


async def record_payment(
    session: AsyncSession, principal: Principal, *, project_id: uuid.UUID, data: PaymentCreate
) -> Payment:
    """Pay part of a grant under convention (R-PAY-1, R-PAY-2, R-CAP-5; 409 otherwise).

    The balance, after the final report, pays the project off: it becomes `paid`, then
    `completed`, and whatever was granted but not paid returns to the envelope.
    """
    project = await projects_reads.get_project(session, principal, project_id=project_id)
    if not state_allows(Status(project.status), ProjectAction.PAYMENTS):  # R-FLOW-1: PAYABLE
        raise PaymentRefused(
            f"Un paiement suppose une convention signée (état du dossier : {project.status}).",
            code="R-FLOW-1",
            current_status=project.status,
            allowed_actions=await _actions(session, principal, project),
        )
    grant = await locked_grant(session, project)
    if grant.status != ACTIVE:
        # The dossier was read before the grant's lock: a concurrent cancellation (or pay-off)
        # may have closed the grant meanwhile and released its unpaid part (R-CAP-5).
        raise PaymentRefused(
            f"La subvention n'est plus active (état : {grant.status}).",
            code="R-FLOW-1",
            current_status=grant.status,
            allowed_actions=await _actions(session, principal, project, reread=True),
        )
    convention = await _convention_of(session, project)
    raise_failures(  # R-PAY-3 (422): not in the future, not before the convention
        check_event_date(
            data.paid_on,
            convention_signed_on=convention.signed_on,
            today=clock.today(),
            field="/paid_on",
            what="Le paiement",
        )
        + check_not_before(  # R-PAY-3: the balance not before the final report
            data.paid_on,
            grant.final_report_on if data.kind is PaymentKind.BALANCE else None,
            field="/paid_on",
            what="Le solde",
            earliest_what="le rapport final",
        )
    )
    failures = check_payment(
        data.kind,
        data.amount_cents,
        GrantState(
            amount_cents=grant.amount_cents,
            paid_cents=grant.paid_cents,
            advance_paid_cents=grant.advance_paid_cents,
            final_report=grant.final_report_on is not None,
        ),
        _payment_caps(grant),  # R-PAY-4
    )
    if failures:  # R-PAY-1, R-PAY-2, R-CAP-5: the 409 says what remains open (issue 27)
        raise_failures(
            failures,
            error=PaymentRefused,
            allowed_actions=await _actions(session, principal, project),
        )
    movement = await move(
        session,
        principal,
        envelope_id=grant.envelope_id,
        kind=MovementKind.PAYMENT,
        delta=Delta(paid=data.amount_cents),
        project_id=project.id,
        reference=data.reference,
    )
    if movement is None:  # cannot happen while grants stay within commitments: fail loudly
        raise PaymentRefused(
            "Le paiement dépasserait l'engagement de l'enveloppe.",
            code="R-CAP-5",
            allowed_actions=await _actions(session, principal, project),
        )
    grant.paid_cents += data.amount_cents
    if data.kind is PaymentKind.ADVANCE:
        grant.advance_paid_cents += data.amount_cents
    grant.updated_at = utcnow()
    payment = Payment(
        project_id=project.id,
        grant_id=grant.id,
        kind=data.kind.value,
        amount_cents=data.amount_cents,
        paid_on=data.paid_on,
        reference=data.reference,
        created_by=principal.subject,
    )
    session.add(payment)
    await session.flush()
    await audit.record(  # R-AUDIT-1
        session,
        principal,
        object_type="payment",
        object_id=payment.id,
        departement=project.departement,
        action=PAYMENT_RECORDED,
        after=audit.snapshot(payment),
    )
    if data.kind is PaymentKind.BALANCE:
        await _pay_off(session, principal, project, grant, data.reference)
    return payment


async def _pay_off(
    session: AsyncSession,
    principal: Principal,
    project: Project,
    grant: Grant,
    reference: str | None,
) -> None:
    """The grant is settled: release what was not paid, then `paid` → `completed` (R-PAY-2)."""
    await release(session, principal, project, grant, closed_status="closed", reference=reference)
    await projects_transitions.advance(session, principal, project, Action.PAY_BALANCE, reference)
    await projects_transitions.advance(session, principal, project, Action.COMPLETE, None)


GRANT_STATUS = "grant_status"
FINAL_REPORT_RECORDED = "final_report_recorded"


@projects_guards.guard(
    ProjectAction.FINAL_REPORT,
    facts={
        GRANT_STATUS: repository.grant_status_fact,
        FINAL_REPORT_RECORDED: repository.final_report_recorded_fact,
    },
)
def may_report(principal: Principal, dossier: projects_guards.Dossier) -> bool:
    """`final-report` in `allowed_actions`: record_final_report's own rules (R-FLOW-1, R-PAY-2)
    on the facts selected with the dossier (issue 12)."""
    return (
        final_report_refusal(
            dossier.status,
            grant_status=dossier.facts[GRANT_STATUS],
            recorded=bool(dossier.facts[FINAL_REPORT_RECORDED]),
        )
        is None
    )


async def record_final_report(
    session: AsyncSession,
    principal: Principal,
    *,
    project_id: uuid.UUID,
    if_match: str | None,
    data: FinalReportCreate,
) -> Grant:
    """Record the final report of a project under convention, which opens the balance
    (R-PAY-2). A write on the dossier read (R-FLOW-3: If-Match of the dossier, whose version
    it moves on: its offer of actions changes). Raises 404, 412/428, or 409 (wrong state, grant
    no longer active, already recorded), the 409 listing `allowed_actions`."""
    project = await projects_reads.get_project(session, principal, project_id=project_id)
    check_if_match(if_match, project.version)
    refused = final_report_state_failure(Status(project.status))  # R-FLOW-1
    if refused is not None:
        raise InvalidTransition(
            refused.message,
            code=refused.code,
            current_status=project.status,
            allowed_actions=await _actions(session, principal, project),
        )
    grant = await repository.grant_for_update(session, project.id)
    # R-FLOW-1: cancelled while we waited for its lock (see record_payment); R-PAY-2: once
    refused = final_report_grant_failure(
        grant.status if grant else None,
        recorded=grant is not None and grant.final_report_on is not None,
    )
    if refused is not None:
        raise GrantRefused(
            refused.message,
            code=refused.code,
            allowed_actions=await _actions(session, principal, project, reread=True),
        )
    assert grant is not None  # a missing grant is refused above (R-FLOW-1)
    convention = await _convention_of(session, project)
    raise_failures(  # R-PAY-3: not in the future, not before the convention
        check_event_date(
            data.received_on,
            convention_signed_on=convention.signed_on,
            today=clock.today(),
            field="/received_on",
            what="Le rapport final",
        )
        + check_not_before(  # R-PAY-3: not before the project's start
            data.received_on,
            project.start_on,
            field="/received_on",
            what="Le rapport final",
            earliest_what="le début du projet",
        )
        # R-DOC-1: the final report's documents (the report, the statement of expenses)
        + await projects_hooks.step_failures(session, project, Step.FINAL_REPORT)
    )
    before = audit.snapshot(grant, exclude=("committed_at",))
    grant.final_report_on = data.received_on
    grant.final_report_summary = data.summary
    grant.updated_at = utcnow()
    # R-FLOW-3: the dossier changes with its grant (`final-report` is no longer offered), so
    # its version moves on; a concurrent write on it makes this one a 412
    project.updated_at = grant.updated_at
    await flush_versioned(session)
    await audit_grant(session, principal, project, grant, "final_report", before=before)
    if grant.paid_cents == grant.amount_cents:
        # Everything was paid before the report (an 80 % cap raised to 100 %): no balance is
        # left to pay, so the report itself closes the project (R-PAY-2).
        await _pay_off(session, principal, project, grant, "rapport final")
    return grant
