"""/envelopes: the departmental envelopes, their ledger and their forfaits (budgets)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from app.auth.dependencies import Read, read_access, require_roles
from app.auth.principal import Principal, Role
from app.budgets import envelope_reads, envelopes as envelopes_service
from app.budgets.models import Envelope
from app.budgets.schemas import (
    AllocationCreate,
    AllocationResult,
    EnvelopeList,
    EnvelopeRead,
    ForfaitScheduleRead,
    ForfaitScheduleUpdate,
    LedgerPage,
    MovementRead,
)
from app.core import tags
from app.core.concurrency import ETAG, IfMatchHeader, etag_for
from app.core.db import SessionDep
from app.core.errors import problems
from app.core.filters import UpdatedSince
from app.core.idempotency import REPLAYED, IdempotencyKeyHeader, run_idempotent
from app.core.lean_route import LeanRoute, lean
from app.core.pagination import CursorFormat, PageParams, page_params_for
from app.programme import service as programme_service
from app.programme.dependencies import ProgrammeParam, ReadProgramme
from app.programme.schemas import ForfaitTier
from app.reference.departements import DepartementPath

envelopes_router = APIRouter(prefix="/envelopes", tags=[tags.ENVELOPPES], route_class=LeanRoute)

ENVELOPES_CURSOR = CursorFormat("envelopes")
LEDGER_CURSOR = CursorFormat("ledger", serial=True)
StateReaders = Annotated[Principal, Depends(require_roles(Role.PREFECT, Role.DINUM, Role.ANCT))]
# Issue 28: the hot reads take their caller and their connection from one dependency.
ReadByState = Annotated[Read, read_access(Role.PREFECT, Role.DINUM, Role.ANCT)]
Dinum = Annotated[Principal, Depends(require_roles(Role.DINUM))]
Prefect = Annotated[Principal, Depends(require_roles(Role.PREFECT))]


def envelope_read(envelope: Envelope, programme: str) -> EnvelopeRead:
    allocated = envelope.allocated_cents
    return EnvelopeRead(
        id=envelope.id,
        programme=programme,
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
    `movements.LEDGER_FIELDS`)."""
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
    responses=problems(401, 403, 404),
)
@lean
async def list_envelopes(
    read: ReadByState,
    programme: ReadProgramme,
    page: Annotated[PageParams, Depends(page_params_for(ENVELOPES_CURSOR))],
    updated_since: UpdatedSince = None,
) -> Any:
    """Les enveloppes de votre périmètre (préfet : la sienne ; DINUM, ANCT : toutes), sur un
    programme (`programme`, par défaut le programme par défaut du service) : un département a
    une enveloppe par programme (R-PROG-2).

    Règles : R-CAP-4, R-ACL-1, R-SYNC-1 (`updated_since`), R-PROG-2.
    """
    key = await programme.key_on(read.connection)
    return await envelope_reads.list_envelopes(  # issue 28: one statement, no session
        read.connection, read.principal, programme=key, page=page, updated_since=updated_since
    )


@envelopes_router.get(
    "/{departement}",
    summary="Lire une enveloppe départementale",
    response_model=EnvelopeRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404)},
)
@lean(shape=True)  # its fields have EnvelopeRead's types (envelope_view)
async def read_envelope(
    departement: DepartementPath,
    response: Response,
    read: ReadByState,
    programme: ReadProgramme,
) -> Any:
    """Alloué, engagé, payé, disponible de l'enveloppe du département sur le programme
    `programme` (R-PROG-2 ; préfet : son département seulement, R-ACL-1)."""
    key = await programme.key_on(read.connection)
    row = await envelope_reads.read_envelope(  # issue 28: one statement, no session
        read.connection, read.principal, programme=key, departement=departement
    )
    response.headers["ETag"] = etag_for(row["version"])
    return envelope_reads.envelope_view(row, programme.code)


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
    programme: ProgrammeParam,
    data: AllocationCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Any:
    """Allouer, abonder, réduire ou transférer une enveloppe (DINUM ; R-CAP-4 : jamais sous
    l'engagé) du programme `programme` (R-PROG-2 : un transfert reste dans ce programme).
    Accepte `Idempotency-Key`."""

    async def action() -> AllocationResult:
        envelope, movements = await envelopes_service.allocate(
            session, principal, programme=programme, departement=departement, data=data
        )
        targets = [departement, data.to_departement or departement]
        return AllocationResult(
            envelope=envelope_read(envelope, programme.code),
            movements=[movement_read(m, d) for m, d in zip(movements, targets, strict=False)],
        )

    async def authorize() -> None:
        envelopes_service.check_departement_scope(principal, departement)

    return await run_idempotent(
        session,
        principal,
        response,
        key=idempotency_key,
        operation=f"allocation:{programme.code}:{departement}",
        payload=data.model_dump(mode="json"),
        status_code=201,
        authorize=authorize,
        action=action,
        location=lambda _: f"/envelopes/{departement}",
    )


@envelopes_router.get(
    "/{departement}/ledger",
    summary="Lire les mouvements d'une enveloppe",
    response_model=LedgerPage,
    responses=problems(401, 403, 404),
)
@lean
async def read_ledger(
    departement: DepartementPath,
    read: ReadByState,
    programme: ReadProgramme,
    page: Annotated[PageParams, Depends(page_params_for(LEDGER_CURSOR))],
    updated_since: UpdatedSince = None,
) -> Any:
    """Les mouvements de l'enveloppe du département sur le programme `programme`, du plus
    ancien au plus récent (append-only).

    Règles : R-CAP-4, R-ACL-1, R-PROG-2.
    """
    page_fields = await envelope_reads.ledger(  # issue 28: one statement, no session
        read.connection,
        read.principal,
        programme=await programme.key_on(read.connection),
        departement=departement,
        page=page,
        updated_since=updated_since,
    )
    return envelope_reads.LEDGER.response(page_fields)  # LedgerPage's bytes, not validated again


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
    programme: ProgrammeParam,
) -> ForfaitScheduleRead:
    """Le barème de forfaits en vigueur pour le département (R-CAP-3)."""
    envelopes_service.check_departement_scope(principal, departement)
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
    programme: ProgrammeParam,
    data: ForfaitScheduleUpdate,
    if_match: IfMatchHeader = None,
) -> ForfaitScheduleRead:
    """Fixer le barème de forfaits de son département (préfet ; If-Match, `"v0"` la première
    fois ; R-CAP-3)."""
    envelopes_service.check_departement_scope(principal, departement)
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
