"""/audit-events: the tamper-evident change feed (R-AUDIT-1) and its verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from app.audit import checkpoints, service as audit_service
from app.audit.models import AuditCheckpoint, AuditEvent
from app.audit.schemas import (
    AuditActor,
    AuditEventPage,
    AuditEventRead,
    AuditObject,
    ChainBreakRead,
    ChainVerification,
    CheckpointClaimsRead,
    CheckpointRead,
)
from app.auth.dependencies import require_roles
from app.auth.principal import Principal, Role
from app.core import tags
from app.core.config import Settings
from app.core.db import SessionDep
from app.core.errors import NotFound, problems
from app.core.filters import Timestamp, UpdatedSince
from app.core.pagination import CursorFormat, PageParams, page_params_for
from app.core.schemas import MAX_INT32, NO_NUL_PATTERN
from app.core.security import ServiceKey

router = APIRouter(prefix="/audit-events", tags=[tags.AUDIT])

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
        key_id=event.key_id,
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


def _signing(request: Request) -> tuple[Settings, ServiceKey | None]:
    settings: Settings = request.app.state.settings
    return settings, request.app.state.token_verifier.service_key


CHECKPOINT_PARAM = (
    "Un point de contrôle conservé (JWS compact de `POST /audit-events/checkpoints` ou "
    "`GET /audit-events/checkpoints/latest`) : sa signature est vérifiée avec la clé du "
    "service, puis la chaîne doit encore avoir, à sa séquence, le hachage qu'il atteste."
)


@router.get(
    "/verify",
    summary="Vérifier la chaîne d'audit",
    response_model=ChainVerification,
    responses=problems(401, 403, 422),
)
async def verify_audit_chain(
    request: Request,
    session: SessionDep,
    _principal: Dinum,
    checkpoint: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=checkpoints.MAX_CHECKPOINT_BYTES,
            pattern=r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$",
            description=CHECKPOINT_PARAM,
        ),
    ] = None,
) -> ChainVerification:
    """Recalcule toute la chaîne (R-AUDIT-1) avec les clés HMAC du service : le premier lien
    rompu (séquence et ce qui diffère), ou la séquence jusqu'à laquelle elle tient. Une ligne
    au-delà de la tête de chaîne est une rupture. Avec `checkpoint`, vérifie aussi qu'un point
    de contrôle signé est toujours dans la chaîne (une réécriture antérieure est détectée) ;
    un JWS qui n'est pas un point de contrôle signé par ce service : 422."""
    claims = None
    if checkpoint is not None:
        settings, service_key = _signing(request)
        claims = checkpoints.verify(settings, service_key, checkpoint)
    result = await audit_service.verify(
        session, checkpoint=None if claims is None else (claims.head_seq, claims.head_hash)
    )
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
        checkpoint=None
        if claims is None
        else CheckpointClaimsRead(
            head_seq=claims.head_seq,
            head_hash=claims.head_hash,
            key_id=claims.key_id,
            at=claims.issued_at,
        ),
    )


def checkpoint_read(checkpoint: AuditCheckpoint) -> CheckpointRead:
    return CheckpointRead(
        head_seq=checkpoint.head_seq,
        head_hash=checkpoint.head_hash,
        key_id=checkpoint.key_id,
        at=checkpoint.at,
        jws=checkpoint.jws,
        anchored=checkpoints.is_anchored(checkpoint.jws),
    )


@router.post(
    "/checkpoints",
    status_code=201,
    summary="Publier un point de contrôle signé de la chaîne",
    response_model=CheckpointRead,
    responses=problems(401, 403),
)
async def create_checkpoint(
    request: Request, session: SessionDep, _principal: Dinum
) -> CheckpointRead:
    """Signe la tête de chaîne actuelle (R-AUDIT-1) avec la clé du service (celle de
    /.well-known/jwks.json) : un JWS compact que l'auditeur conserve hors de la base. Le
    service en publie aussi un à intervalles réguliers quand la chaîne a avancé."""
    settings, service_key = _signing(request)
    created = await checkpoints.create(session, settings, service_key)
    return checkpoint_read(created)


@router.get(
    "/checkpoints/latest",
    summary="Dernier point de contrôle signé de la chaîne",
    response_model=CheckpointRead,
    responses=problems(401, 403, 404),
)
async def latest_checkpoint(session: SessionDep, _principal: Readers) -> CheckpointRead:
    """Le dernier point de contrôle publié (R-AUDIT-1) ; 404 s'il n'y en a encore aucun.
    DINUM et préfets (il ne révèle qu'une séquence et un hachage)."""
    found = await checkpoints.latest(session)
    if found is None:
        raise NotFound("Aucun point de contrôle n'a encore été publié.")
    return checkpoint_read(found)
