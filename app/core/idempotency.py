"""Idempotency-Key for writes that move money or record decisions.

draft-ietf-httpapi-idempotency-key-header: the same key and body replays the first answer;
the same key with another body answers 422; a key whose first request is still running
answers 409. The record is written in the same transaction as the effect, so a crash can
never leave one without the other. A replay carries the headers of the first answer a client
follows (`REPLAYED_HEADERS`: the ETag to send back in If-Match, the Location of what was
created), as they were then: they describe the body it replays (issue 27).

A record belongs to the caller's whole identity (subject, role and scope: two tokens sharing a
`sub` are two callers), and is looked up only once the caller has been shown to reach the
object (R-ACL-1): a replay never answers what a fresh request would have refused with 404.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Header, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import JSON, UniqueConstraint, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from app.core.errors import Conflict, UnprocessableEntity
from app.core.location import API_PREFIX, set_location
from app.core.tokens import CallerIdentity
from app.core.types import UTCDateTime

RETENTION = timedelta(hours=24)


def real_now() -> datetime:
    """Real time, not the service's clock: a key's lifetime is what the client retrying it
    lives by (a demonstration clock shifted to 2021 must not expire keys sent a second ago)."""
    return datetime.now(UTC)


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Clé unique (UUID v4 conseillé) : rejouer la même requête ne la refait pas.",
    ),
]
REPLAYED = {
    "Idempotent-Replayed": {
        "description": "Présent (true) quand la réponse rejoue une requête déjà traitée.",
        "schema": {"type": "string"},
    }
}
"""The response header of a replay, for the `responses` of a route accepting the key."""

REPLAYED_HEADERS = ("ETag", "Location")
"""The first answer's headers a replay gives again: what a client chains its next call on."""


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint(
            "principal_subject",
            "principal_role",
            "principal_scope",
            "key",
            name="uq_idempotency_record_identity_key",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    principal_subject: str = Field(max_length=255)
    principal_role: str = Field(default="", max_length=20)
    # The prefect's département or the candidate's SIREN; "" for national roles (never NULL,
    # which a unique constraint would not compare).
    principal_scope: str = Field(default="", max_length=20)
    key: str = Field(max_length=255)
    operation: str = Field(max_length=100)
    request_hash: str = Field(max_length=64)
    status_code: int = 0  # 0 while the first request is in flight
    response_body: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # REPLAYED_HEADERS as the first answer sent them (NULL for records kept from before).
    response_headers: dict[str, str] | None = Field(default=None, sa_type=JSON)
    created_at: datetime = Field(default_factory=real_now, sa_type=UTCDateTime, index=True)


class IdempotencyKeyReused(UnprocessableEntity):
    slug = "idempotency-key-reused"
    title = "Clé d'idempotence déjà utilisée"
    default_detail = (
        "Cette clé d'idempotence a déjà servi pour une autre requête : utilisez une nouvelle clé."
    )


class IdempotencyInFlight(Conflict):
    slug = "idempotency-in-flight"
    title = "Requête déjà en cours"
    default_detail = "Une requête avec cette clé est en cours : réessayez dans un instant."


def principal_scope(principal: CallerIdentity) -> str:
    """The scope claim that, with subject and role, identifies a caller."""
    return principal.departement or principal.siren or ""


def request_hash(operation: str, payload: Any) -> str:
    canonical = json.dumps([operation, payload], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _replay(
    session: AsyncSession,
    principal: CallerIdentity,
    key: str,
    fingerprint: str,
    *,
    purge_expired: bool,
) -> JSONResponse | None:
    """The stored answer for this key, 422 if it was used for another request, 409 while the
    first request runs; None when the key is free."""
    existing = (
        await session.execute(
            select(IdempotencyRecord)
            .where(
                IdempotencyRecord.principal_subject == principal.subject,
                IdempotencyRecord.principal_role == principal.role.value,
                IdempotencyRecord.principal_scope == principal_scope(principal),
                IdempotencyRecord.key == key,
            )
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if existing is None:
        return None
    if purge_expired and existing.created_at < real_now() - RETENTION:
        await session.execute(
            delete(IdempotencyRecord).where(col(IdempotencyRecord.id) == existing.id)
        )
        return None
    if existing.request_hash != fingerprint:
        raise IdempotencyKeyReused()
    if existing.status_code == 0:
        raise IdempotencyInFlight()
    return JSONResponse(
        existing.response_body,
        status_code=existing.status_code,
        headers={**(existing.response_headers or {}), "Idempotent-Replayed": "true"},
    )


async def run_idempotent(
    session: AsyncSession,
    principal: CallerIdentity,
    response: Response,
    *,
    key: str | None,
    operation: str,
    payload: Any,
    status_code: int,
    authorize: Callable[[], Awaitable[None]],
    action: Callable[[], Awaitable[BaseModel]],
    location: Callable[[dict[str, Any]], str] | None = None,
) -> BaseModel | JSONResponse:
    """Run `action` once per (caller identity, key); replay its stored answer afterwards.

    `authorize` raises (404 out of scope, R-ACL-1) unless the caller reaches the object; it runs
    first, so that no stored answer is replayed to a caller who could not have made the request.
    `action` sets its headers on `response` (an ETag); `location` gives the path, under the API
    prefix, of what a 201 created, from the answer's body. Both are stored with the answer.
    """
    if key is None:
        return _located(response, await action(), location)
    await authorize()
    fingerprint = request_hash(operation, payload)
    replay = await _replay(session, principal, key, fingerprint, purge_expired=True)
    if replay is not None:
        return _replay_located(replay, location)
    record = IdempotencyRecord(
        principal_subject=principal.subject,
        principal_role=principal.role.value,
        principal_scope=principal_scope(principal),
        key=key,
        operation=operation,
        request_hash=fingerprint,
    )
    try:
        # Inserted before the effect: a concurrent twin waits on the unique index (PostgreSQL)
        # and then fails here instead of doing the effect a second time.
        async with session.begin_nested():
            session.add(record)
    except IntegrityError as exc:
        # The twin has committed meanwhile (READ COMMITTED sees it now): replay its answer.
        replay = await _replay(session, principal, key, fingerprint, purge_expired=False)
        if replay is not None:
            return _replay_located(replay, location)
        raise IdempotencyInFlight() from exc
    result = _located(response, await action(), location)
    record.status_code = status_code
    record.response_body = result.model_dump(mode="json")
    record.response_headers = {
        name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers
    } or None
    await session.flush()
    return result


def _located(
    response: Response, result: BaseModel, location: Callable[[dict[str, Any]], str] | None
) -> BaseModel:
    if location is not None:
        set_location(response, location(result.model_dump(mode="json")))
    return result


def _replay_located(
    replay: JSONResponse, location: Callable[[dict[str, Any]], str] | None
) -> JSONResponse:
    """A record stored before its headers were (NULL `response_headers`) still says where."""
    if location is not None and "Location" not in replay.headers:
        replay.headers["Location"] = f"{API_PREFIX}{location(json.loads(bytes(replay.body)))}"
    return replay
