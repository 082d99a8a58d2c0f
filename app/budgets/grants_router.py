"""/projects/{id}/…: a dossier's grant, its convention, payments, final report and
cancellation (grants)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import Read, read_access, require_roles
from app.auth.principal import Principal, Role
from app.budgets import (
    grant_reads,
    grants as grants_service,
    payments as payments_service,
)
from app.budgets.schemas import (
    CancelRequest,
    ConventionCreate,
    FinalReportCreate,
    GrantRead,
    PaymentCreate,
    PaymentRead,
)
from app.core import tags
from app.core.concurrency import IfMatchHeader, etag_for
from app.core.db import SessionDep
from app.core.errors import example_problem, problems
from app.core.idempotency import REPLAYED, IdempotencyKeyHeader, run_idempotent
from app.core.lean_route import LeanRoute, lean
from app.projects.lifecycle_rules import ACTION_ROLES, ProjectAction

grants_router = APIRouter(prefix="/projects", tags=[tags.SUBVENTIONS], route_class=LeanRoute)

# Issue 28: the hot read takes its caller and its connection from one dependency.
ReadByAnyone = Annotated[Read, read_access(Role.CANDIDATE, Role.PREFECT, Role.DINUM, Role.ANCT)]


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


PROJECT_ETAG = {
    "ETag": {
        "description": (
            "Version du dossier, à renvoyer en If-Match (convention, rapport final, annulation)."
        ),
        "schema": {"type": "string"},
    }
}


async def grant_read(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID, response: Response
) -> dict[str, Any]:
    """The grant view after a write, in its transaction, with the dossier's ETag so a front-end
    can chain If-Match writes (the same rows and fields as the lean read, issue 28)."""
    rows = await grant_reads.session_grant_rows(session, principal, project_id)
    response.headers["ETag"] = etag_for(rows[0]["version"])
    return grant_reads.grant_fields(rows)


@grants_router.get(
    "/{project_id}/grant",
    summary="Lire la subvention d'un dossier",
    response_model=GrantRead,
    responses={200: {"headers": PROJECT_ETAG}, **problems(401, 403, 404)},
)
@lean
async def read_grant(
    project_id: uuid.UUID,
    response: Response,
    read: ReadByAnyone,
) -> dict[str, Any]:
    """La subvention d'un dossier : montant, convention, paiements (le candidat voit la
    sienne).

    Règles : R-CAP-4, R-PAY-1, R-PAY-2, R-ACL-1.
    """
    # Issue 28: one statement on a pooled connection, no ORM session.
    rows = await grant_reads.grant_rows(read.connection, read.principal, project_id)
    response.headers["ETag"] = etag_for(rows[0]["version"])
    return grant_reads.grant_fields(rows)


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
) -> dict[str, Any]:
    """Enregistrer la convention signée (CRTE ou ad hoc) d'un dossier accepté (If-Match du
    dossier).

    Règles : R-FLOW-1, R-FLOW-3, R-PAY-1, R-PAY-3.
    """
    await payments_service.sign_convention(
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
        payment = await payments_service.record_payment(
            session, principal, project_id=project_id, data=data
        )
        return PaymentRead.model_validate(payment)

    async def authorize() -> None:
        await payments_service.check_project_scope(session, principal, project_id=project_id)

    return await run_idempotent(
        session,
        principal,
        response,
        key=idempotency_key,
        operation=f"payment:{project_id}",
        payload=data.model_dump(mode="json"),
        status_code=201,
        authorize=authorize,
        action=action,
        location=lambda _: f"/projects/{project_id}/grant",
    )


@grants_router.post(
    "/{project_id}/final-report",
    summary="Enregistrer le rapport final",
    response_model=GrantRead,
    responses={200: {"headers": PROJECT_ETAG}, **problems(401, 403, 404, 409, 412, 413, 428)},
)
async def record_final_report(
    project_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Reporter,
    data: FinalReportCreate,
    if_match: IfMatchHeader = None,
) -> dict[str, Any]:
    """Enregistrer le rapport final, qui ouvre le versement du solde (R-PAY-2), une fois, sous
    convention et subvention active (R-FLOW-1). Daté ni dans le futur, ni avant la convention,
    ni avant le début du projet (422 R-PAY-3). Offert par `allowed_actions` (`final-report`)
    selon ces mêmes règles ; un 409 les liste. If-Match du dossier (R-FLOW-3) : le rapport
    change le dossier, dont l'ETag avance."""
    await payments_service.record_final_report(
        session, principal, project_id=project_id, if_match=if_match, data=data
    )
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
) -> dict[str, Any]:
    """Annuler une subvention accordée : la part non payée revient à l'enveloppe (R-CAP-5)."""
    await grants_service.cancel_grant(
        session, principal, project_id=project_id, if_match=if_match, reason=data.reason
    )
    return await grant_read(session, principal, project_id, response)
