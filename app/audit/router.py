"""/audit-events: the tamper-evident change feed (R-AUDIT-1) and its verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.audit import service as audit_service
from app.audit.models import AuditEvent
from app.audit.schemas import (
    AuditActor,
    AuditEventPage,
    AuditEventRead,
    AuditObject,
    ChainBreakRead,
    ChainVerification,
)
from app.auth.dependencies import require_roles
from app.auth.principal import Principal, Role
from app.core.db import SessionDep
from app.core.errors import problems
from app.core.filters import Timestamp, UpdatedSince
from app.core.pagination import CursorFormat, PageParams, page_params_for
from app.core.schemas import MAX_INT32, NO_NUL_PATTERN

router = APIRouter(prefix="/audit-events", tags=["audit"])

AUDIT_CURSOR = CursorFormat("audit", serial=True)
Readers = Annotated[Principal, Depends(require_roles(Role.DINUM, Role.PREFECT))]
Dinum = Annotated[Principal, Depends(require_roles(Role.DINUM))]
Word = r"^[a-z_.]{1,60}$"

SYNC_NOTE = (
    "**Synchronisation.** Les listes filtrées par `updated_since` peuvent manquer une ligne "
    "dont la transaction valide tard (son `updated_at` est antérieur à l'instant déjà lu par le "
    "client quand elle devient visible). Ce journal ne le peut pas : `seq` est attribué au "
    "moment de la validation, sans trou et dans l'ordre des validations ; reprendre avec "
    "`after=<dernier seq reçu>` ne manque et ne répète aucun événement."
)


def event_read(event: AuditEvent) -> AuditEventRead:
    return AuditEventRead(
        seq=event.seq,
        id=event.id,
        at=event.at,
        actor=AuditActor(
            subject=event.actor_subject, role=event.actor_role, scope=event.actor_scope
        ),
        object=AuditObject(
            type=event.object_type, id=event.object_id, departement=event.departement
        ),
        action=event.action,
        before=event.before,
        after=event.after,
        prev_hash=event.prev_hash,
        hash=event.hash,
    )


@router.get(
    "",
    summary="Lister le journal d'audit",
    response_model=AuditEventPage,
    responses=problems(401, 403),
    description=SYNC_NOTE,
)
async def list_audit_events(
    session: SessionDep,
    principal: Readers,
    page: Annotated[PageParams, Depends(page_params_for(AUDIT_CURSOR))],
    object_type: Annotated[
        str | None, Query(pattern=Word, description="Type d'objet (project, grant, …).")
    ] = None,
    # NUL is refused by the contract (PostgreSQL cannot compare a text holding it).
    object_id: Annotated[
        str | None, Query(min_length=1, max_length=64, pattern=NO_NUL_PATTERN)
    ] = None,
    actor: Annotated[
        str | None,
        Query(
            min_length=1, max_length=255, pattern=NO_NUL_PATTERN, description="`sub` de l'auteur."
        ),
    ] = None,
    action: Annotated[str | None, Query(pattern=Word)] = None,
    at_from: Annotated[
        Timestamp | None, Query(alias="from", description="Événements à partir de cet instant.")
    ] = None,
    at_to: Annotated[
        Timestamp | None, Query(alias="to", description="Événements jusqu'à cet instant inclus.")
    ] = None,
    after: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_INT32,
            description="Seulement les événements de séquence supérieure (synchronisation).",
        ),
    ] = None,
    updated_since: UpdatedSince = None,
) -> AuditEventPage:
    """Le journal d'audit (R-AUDIT-1), par séquence croissante : DINUM tout, un préfet les
    événements de son département.

    Règles : R-AUDIT-1, R-ACL-1, R-SYNC-1.
    """
    # R-SYNC-1: events are immutable, so `updated_since` is one more lower bound on `at`.
    lower_bounds = [t for t in (at_from, updated_since) if t is not None]
    rows, next_cursor = await audit_service.list_events(
        session,
        principal,
        filters=audit_service.AuditFilters(
            object_type=object_type,
            object_id=object_id,
            actor=actor,
            action=action,
            at_from=max(lower_bounds) if lower_bounds else None,
            at_to=at_to,
            after=after,
        ),
        page=page,
    )
    return AuditEventPage(items=[event_read(e) for e in rows], next_cursor=next_cursor)


@router.get(
    "/verify",
    summary="Vérifier la chaîne d'audit",
    response_model=ChainVerification,
    responses=problems(401, 403),
)
async def verify_audit_chain(session: SessionDep, _principal: Dinum) -> ChainVerification:
    """Recalcule toute la chaîne de hachage (R-AUDIT-1) : le premier lien rompu (séquence et
    ce qui diffère), ou la séquence jusqu'à laquelle elle tient."""
    result = await audit_service.verify(session)
    broken = result.broken
    return ChainVerification(
        valid=broken is None,
        verified_up_to=result.state.verified_up_to,
        events_checked=result.state.checked,
        head_seq=result.head_seq,
        broken=None
        if broken is None
        else ChainBreakRead(
            seq=broken.seq,
            field=broken.field,
            expected=broken.expected,
            found=broken.found,
            message=broken.message,
        ),
    )
