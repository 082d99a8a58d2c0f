"""/envelopes (budgets) and /projects/{id}/… (grants: convention, payments, final report)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from app.auth.dependencies import require_roles
from app.auth.principal import Principal, Role
from app.budgets import service as budgets_service
from app.budgets.models import Envelope
from app.budgets.schemas import (
    AllocationCreate,
    AllocationResult,
    CancelRequest,
    ConventionCreate,
    ConventionRead,
    EnvelopeList,
    EnvelopeRead,
    FinalReportCreate,
    ForfaitScheduleRead,
    ForfaitScheduleUpdate,
    GrantRead,
    GrantTerms,
    LedgerPage,
    MovementRead,
    PaymentCreate,
    PaymentRead,
    ScheduleItemRead,
)
from app.core.concurrency import ETAG, IfMatchHeader, etag_for
from app.core.db import SessionDep
from app.core.errors import example_problem, problems
from app.core.filters import UpdatedSince
from app.core.idempotency import IdempotencyKeyHeader, run_idempotent
from app.core.location import located
from app.core.pagination import CursorFormat, PageParams, page_params_for
from app.programme import service as programme_service
from app.programme.dependencies import CurrentProgramme, ProgrammeRef
from app.programme.schemas import ForfaitTier
from app.projects.rules import ACTION_ROLES, ProjectAction
from app.reference.departements import DepartementPath

envelopes_router = APIRouter(prefix="/envelopes", tags=["budgets"])
grants_router = APIRouter(prefix="/projects", tags=["grants"])

REPLAYED = {
    "Idempotent-Replayed": {
        "description": "Présent (true) quand la réponse rejoue une requête déjà traitée.",
        "schema": {"type": "string"},
    }
}
ENVELOPES_CURSOR = CursorFormat("envelopes")
LEDGER_CURSOR = CursorFormat("ledger", serial=True)
StateReaders = Annotated[Principal, Depends(require_roles(Role.PREFECT, Role.DINUM, Role.ANCT))]
AllReaders = Annotated[
    Principal, Depends(require_roles(Role.CANDIDATE, Role.PREFECT, Role.DINUM, Role.ANCT))
]
Dinum = Annotated[Principal, Depends(require_roles(Role.DINUM))]
Prefect = Annotated[Principal, Depends(require_roles(Role.PREFECT))]


def _may(action: ProjectAction) -> object:
    """The role check of `action`, from the table project reads offer it by (issue 12)."""
    return Depends(require_roles(*sorted(ACTION_ROLES[action], key=lambda r: r.value)))


_DOSSIER = "/api/v1/projects/3f2c9a1e-8b4d-4e6f-9a0b-1c2d3e4f5a6b"
# The 409s a UI meets on a granted dossier: each names the actions open instead (issue 12).
CONVENTION_CONFLICT = example_problem(
    409,
    "invalid-transition",
    "Transition interdite",
    "Transition « convention » impossible : le dossier est « conventionné » "
    "(under_convention), la transition mènerait à « under_convention ».",
    "R-FLOW-1",
    instance=f"{_DOSSIER}/convention",
    current_status="under_convention",
    requested_status="under_convention",
    allowed_actions=["payments", "cancel"],
)
PAYMENT_CONFLICT = example_problem(
    409,
    "payment-refused",
    "Paiement refusé",
    "Un paiement suppose une convention signée (état du dossier : accepted).",
    "R-FLOW-1",
    instance=f"{_DOSSIER}/payments",
    current_status="accepted",
    allowed_actions=["convention", "cancel"],
)
CANCEL_CONFLICT = example_problem(
    409,
    "invalid-transition",
    "Transition interdite",
    "Transition « cancel » impossible : le dossier est « soldé » (paid), la transition "
    "mènerait à « cancelled ».",
    "R-FLOW-1",
    instance=f"{_DOSSIER}/cancel",
    current_status="paid",
    requested_status="cancelled",
    allowed_actions=[],
)

Signer = Annotated[Principal, _may(ProjectAction.CONVENTION)]
Payer = Annotated[Principal, _may(ProjectAction.PAYMENTS)]
Canceller = Annotated[Principal, _may(ProjectAction.CANCEL)]
Reporter = Annotated[Principal, _may(ProjectAction.FINAL_REPORT)]


def envelope_read(envelope: Envelope) -> EnvelopeRead:
    allocated = envelope.allocated_cents
    return EnvelopeRead(
        id=envelope.id,
        departement=envelope.departement,
        prefecture_name=envelope.prefecture_name,
        prefecture_siret=envelope.prefecture_siret,
        allocated_cents=allocated,
        committed_cents=envelope.committed_cents,
        paid_cents=envelope.paid_cents,
        available_cents=allocated - envelope.committed_cents,
        use_rate_bps=(envelope.committed_cents * 10_000 // allocated) if allocated else 0,
        version=envelope.version,
        updated_at=envelope.updated_at,
    )


def movement_read(movement: Any, departement: str) -> MovementRead:
    """A movement from its ORM row (an allocation's; ledger pages read their rows by position,
    `budgets_service.LEDGER_FIELDS`)."""
    return MovementRead(
        id=movement.id or 0,
        departement=departement,
        kind=movement.kind,
        allocated_delta_cents=movement.allocated_delta_cents,
        committed_delta_cents=movement.committed_delta_cents,
        paid_delta_cents=movement.paid_delta_cents,
        project_id=movement.project_id,
        reference=movement.reference,
        actor=movement.actor_subject,
        actor_role=Role(movement.actor_role),
        at=movement.at,
    )


@envelopes_router.get(
    "",
    summary="Lister les enveloppes départementales",
    response_model=EnvelopeList,
    responses=problems(401, 403),
)
async def list_envelopes(
    session: SessionDep,
    principal: StateReaders,
    programme: ProgrammeRef,
    page: Annotated[PageParams, Depends(page_params_for(ENVELOPES_CURSOR))],
    updated_since: UpdatedSince = None,
) -> EnvelopeList:
    """Les enveloppes de votre périmètre (préfet : la sienne ; DINUM, ANCT : toutes).

    Règles : R-CAP-4, R-ACL-1, R-SYNC-1 (`updated_since`).
    """
    rows, next_cursor = await budgets_service.list_envelopes(
        session, principal, programme=programme, page=page, updated_since=updated_since
    )
    return EnvelopeList(items=[envelope_read(e) for e in rows], next_cursor=next_cursor)


@envelopes_router.get(
    "/{departement}",
    summary="Lire une enveloppe départementale",
    response_model=EnvelopeRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404)},
)
async def read_envelope(
    departement: DepartementPath,
    response: Response,
    session: SessionDep,
    principal: StateReaders,
    programme: ProgrammeRef,
) -> EnvelopeRead:
    """Alloué, engagé, payé, disponible (préfet : son département seulement, R-ACL-1)."""
    envelope = await budgets_service.get_envelope(
        session, principal, programme=programme, departement=departement
    )
    response.headers["ETag"] = etag_for(envelope.version)
    return envelope_read(envelope)


@envelopes_router.post(
    "/{departement}/allocations",
    summary="Allouer, abonder ou transférer une enveloppe",
    status_code=201,
    response_model=AllocationResult,
    responses={201: {"headers": REPLAYED}, **problems(401, 403, 404, 409, 413)},
)
async def create_allocation(
    departement: DepartementPath,
    response: Response,
    session: SessionDep,
    principal: Dinum,
    programme: CurrentProgramme,
    data: AllocationCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Any:
    """Allouer, abonder, réduire ou transférer une enveloppe (DINUM ; R-CAP-4 : jamais sous
    l'engagé). Accepte `Idempotency-Key`."""

    async def action() -> AllocationResult:
        envelope, movements = await budgets_service.allocate(
            session, principal, programme=programme, departement=departement, data=data
        )
        targets = [departement, data.to_departement or departement]
        return AllocationResult(
            envelope=envelope_read(envelope),
            movements=[movement_read(m, d) for m, d in zip(movements, targets, strict=False)],
        )

    async def authorize() -> None:
        budgets_service.check_departement_scope(principal, departement)

    result = await run_idempotent(
        session,
        principal,
        key=idempotency_key,
        operation=f"allocation:{departement}",
        payload=data.model_dump(mode="json"),
        status_code=201,
        authorize=authorize,
        action=action,
    )
    return located(response, result, lambda _: f"/envelopes/{departement}")


@envelopes_router.get(
    "/{departement}/ledger",
    summary="Lire les mouvements d'une enveloppe",
    response_model=LedgerPage,
    responses=problems(401, 403, 404),
)
async def read_ledger(
    departement: DepartementPath,
    session: SessionDep,
    principal: StateReaders,
    programme: ProgrammeRef,
    page: Annotated[PageParams, Depends(page_params_for(LEDGER_CURSOR))],
    updated_since: UpdatedSince = None,
) -> LedgerPage:
    """Les mouvements de l'enveloppe, du plus ancien au plus récent (append-only).

    Règles : R-CAP-4, R-ACL-1.
    """
    rows, next_cursor = await budgets_service.ledger(
        session,
        principal,
        programme=programme,
        departement=departement,
        page=page,
        updated_since=updated_since,
    )
    fields = budgets_service.LEDGER_FIELDS
    return LedgerPage.model_validate(  # the page validated in one call (issue 13)
        {
            "items": [dict(zip(fields, row, strict=True), departement=departement) for row in rows],
            "next_cursor": next_cursor,
        }
    )


def _schedule_read(schedule: programme_service.ForfaitSchedule) -> ForfaitScheduleRead:
    return ForfaitScheduleRead(
        departement=schedule.departement,
        source=schedule.source,
        tiers=[ForfaitTier.model_validate(t) for t in schedule.tiers],
        version=schedule.version,
    )


@envelopes_router.get(
    "/{departement}/forfaits",
    summary="Lire le barème de forfaits d'un département",
    response_model=ForfaitScheduleRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404)},
)
async def read_forfaits(
    departement: DepartementPath,
    response: Response,
    principal: StateReaders,
    session: SessionDep,
    programme: CurrentProgramme,
) -> ForfaitScheduleRead:
    """Le barème de forfaits en vigueur pour le département (R-CAP-3)."""
    budgets_service.check_departement_scope(principal, departement)
    schedule = await programme_service.forfait_schedule(session, programme, departement)
    response.headers["ETag"] = etag_for(schedule.version)
    return _schedule_read(schedule)


@envelopes_router.put(
    "/{departement}/forfaits",
    summary="Fixer le barème de forfaits d'un département",
    response_model=ForfaitScheduleRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404, 412, 413, 428)},
)
async def set_forfaits(
    departement: DepartementPath,
    response: Response,
    principal: Prefect,
    session: SessionDep,
    programme: CurrentProgramme,
    data: ForfaitScheduleUpdate,
    if_match: IfMatchHeader = None,
) -> ForfaitScheduleRead:
    """Fixer le barème de forfaits de son département (préfet ; If-Match, `"v0"` la première
    fois ; R-CAP-3)."""
    budgets_service.check_departement_scope(principal, departement)
    schedule = await programme_service.set_departement_forfaits(
        session,
        principal,
        programme=programme,
        departement=departement,
        if_match=if_match,
        tiers=[t.model_dump(mode="json") for t in data.tiers],
    )
    response.headers["ETag"] = etag_for(schedule.version)
    return _schedule_read(schedule)


# -- grants ---------------------------------------------------------------------------------


PROJECT_ETAG = {
    "ETag": {
        "description": "Version du dossier, à renvoyer en If-Match (convention, annulation).",
        "schema": {"type": "string"},
    }
}


async def grant_read(
    session: SessionDep, principal: Principal, project_id: uuid.UUID, response: Response
) -> GrantRead:
    """The grant view, with the dossier's ETag so a front-end can chain If-Match writes."""
    view = await budgets_service.grant_view(session, principal, project_id=project_id)
    response.headers["ETag"] = etag_for(view.project.version)
    grant, convention, period = view.grant, view.convention, view.payment_period
    return GrantRead(
        project_id=view.project.id,
        project_status=view.project.status,
        departement=view.project.departement,
        amount_cents=grant.amount_cents,
        paid_cents=grant.paid_cents,
        remaining_cents=grant.amount_cents - grant.paid_cents - grant.released_cents,
        advance_paid_cents=grant.advance_paid_cents,
        released_cents=grant.released_cents,
        net_cents=grant.net_cents,
        terms=GrantTerms.model_validate(grant, from_attributes=True),
        status=grant.status,
        final_report_on=grant.final_report_on,
        committed_at=grant.committed_at,
        decision_reference=grant.reference,
        decided_on=view.decided_on,
        convention=ConventionRead(
            reference=convention.reference,
            kind=convention.kind,
            signed_on=convention.signed_on,
            schedule=[ScheduleItemRead.model_validate(i) for i in convention.schedule],
            payment_conditions=view.payment_conditions,
            payment_period_start=period[0] if period else None,
            payment_period_end=period[1] if period else None,
            created_at=convention.created_at,
        )
        if convention
        else None,
        payments=[PaymentRead.model_validate(p) for p in view.payments],
    )


@grants_router.get(
    "/{project_id}/grant",
    summary="Lire la subvention d'un dossier",
    response_model=GrantRead,
    responses={200: {"headers": PROJECT_ETAG}, **problems(401, 403, 404)},
)
async def read_grant(
    project_id: uuid.UUID, response: Response, session: SessionDep, principal: AllReaders
) -> GrantRead:
    """La subvention d'un dossier : montant, convention, paiements (le candidat voit la
    sienne).

    Règles : R-CAP-4, R-PAY-1, R-PAY-2, R-ACL-1.
    """
    return await grant_read(session, principal, project_id, response)


@grants_router.post(
    "/{project_id}/convention",
    summary="Enregistrer la convention signée",
    response_model=GrantRead,
    responses={
        200: {"headers": PROJECT_ETAG},
        **problems(401, 403, 404, 409, 412, 413, 428, examples={409: CONVENTION_CONFLICT}),
    },
)
async def sign_convention(
    project_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Signer,
    data: ConventionCreate,
    if_match: IfMatchHeader = None,
) -> GrantRead:
    """Enregistrer la convention signée (CRTE ou ad hoc) d'un dossier accepté (If-Match du
    dossier).

    Règles : R-FLOW-1, R-FLOW-3, R-PAY-1, R-PAY-3.
    """
    await budgets_service.sign_convention(
        session, principal, project_id=project_id, if_match=if_match, data=data
    )
    return await grant_read(session, principal, project_id, response)


@grants_router.post(
    "/{project_id}/payments",
    summary="Enregistrer un paiement",
    status_code=201,
    response_model=PaymentRead,
    responses={
        201: {"headers": REPLAYED},
        **problems(401, 403, 404, 409, 413, examples={409: PAYMENT_CONFLICT}),
    },
)
async def create_payment(
    project_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Payer,
    data: PaymentCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Any:
    """Enregistrer un paiement : avance ≤ 30 % (R-PAY-1), ≤ 80 % avant le rapport final
    (R-PAY-2), jamais au-delà de la subvention (R-CAP-5). Daté ni dans le futur ni avant la
    convention, le solde pas avant le rapport final (422 R-PAY-3). Accepte `Idempotency-Key`."""

    async def action() -> PaymentRead:
        payment = await budgets_service.record_payment(
            session, principal, project_id=project_id, data=data
        )
        return PaymentRead.model_validate(payment)

    async def authorize() -> None:
        await budgets_service.check_project_scope(session, principal, project_id=project_id)

    result = await run_idempotent(
        session,
        principal,
        key=idempotency_key,
        operation=f"payment:{project_id}",
        payload=data.model_dump(mode="json"),
        status_code=201,
        authorize=authorize,
        action=action,
    )
    return located(response, result, lambda _: f"/projects/{project_id}/grant")


@grants_router.post(
    "/{project_id}/final-report",
    summary="Enregistrer le rapport final",
    response_model=GrantRead,
    responses={200: {"headers": PROJECT_ETAG}, **problems(401, 403, 404, 409, 413)},
)
async def record_final_report(
    project_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Reporter,
    data: FinalReportCreate,
) -> GrantRead:
    """Enregistrer le rapport final, qui ouvre le versement du solde (R-PAY-2), une fois, sous
    convention et subvention active (R-FLOW-1). Daté ni dans le futur, ni avant la convention,
    ni avant le début du projet (422 R-PAY-3). Offert par `allowed_actions` (`final-report`)
    selon ces mêmes règles ; un 409 les liste."""
    await budgets_service.record_final_report(session, principal, project_id=project_id, data=data)
    return await grant_read(session, principal, project_id, response)


@grants_router.post(
    "/{project_id}/cancel",
    summary="Annuler une subvention",
    response_model=GrantRead,
    responses={
        200: {"headers": PROJECT_ETAG},
        **problems(401, 403, 404, 409, 412, 413, 428, examples={409: CANCEL_CONFLICT}),
    },
)
async def cancel_grant(
    project_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Canceller,
    data: CancelRequest,
    if_match: IfMatchHeader = None,
) -> GrantRead:
    """Annuler une subvention accordée : la part non payée revient à l'enveloppe (R-CAP-5)."""
    await budgets_service.cancel_grant(
        session, principal, project_id=project_id, if_match=if_match, reason=data.reason
    )
    return await grant_read(session, principal, project_id, response)
