"""R-AUDIT-1: the chain head anchored outside the database by signed checkpoints.

A checkpoint is a compact JWS (header `typ` = `audit-checkpoint+jwt`) whose claims are the head
at an instant: `head_seq`, `head_hash`, `key_id` (the HMAC key that sealed the head event),
`iat` and `iss`. It is signed with the service's own key (GUICHET_JWT_SIGNING_KEY, ES256 or
RS256, whose public half is at /.well-known/jwks.json): an auditor who keeps checkpoints and
the JWKS can later prove that the chain up to a checkpoint was not rewritten, even by someone
who holds the database and the HMAC keys, because nobody can sign an older head again without
the service's private key. Without a service key (development), checkpoints are signed HS256
with GUICHET_JWT_SECRET: they still verify here, but they are no outside anchor (the secret is
not public and the service itself could re-sign).

Checkpoints are published every `audit_checkpoint_interval_seconds` when the head moved (a
background task, like the webhook worker), and on demand (POST /audit-events/checkpoints);
each one is logged (logger `app.audit`) and the latest is served back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from app.audit.errors import CheckpointInvalid
from app.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from app.audit.rules import GENESIS_HASH
from app.audit.service import current_keyring
from app.core import security
from app.core.config import AUDIT_KEY_ID_PATTERN, Settings
from app.core.schemas import MAX_INT32
from app.core.security import ServiceKey

logger = logging.getLogger("app.audit")

CHECKPOINT_TYPE = "audit-checkpoint+jwt"
HS256_KID = "hs256-dev"
MAX_CHECKPOINT_BYTES = 4096
HASH_PATTERN = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class CheckpointClaims:
    head_seq: int
    head_hash: str
    key_id: str
    issued_at: datetime


def _signer(settings: Settings, service_key: ServiceKey | None) -> tuple[Any, str, str]:
    """(key, algorithm, kid) that sign checkpoints: the service key, else the HS256 secret."""
    if service_key is not None:
        return service_key.private, service_key.algorithm, service_key.kid
    return settings.jwt_secret.get_secret_value(), "HS256", HS256_KID


def _verifier(settings: Settings, service_key: ServiceKey | None) -> tuple[Any, str, str]:
    if service_key is not None:
        return service_key.public, service_key.algorithm, service_key.kid
    return settings.jwt_secret.get_secret_value(), "HS256", HS256_KID


def sign(settings: Settings, service_key: ServiceKey | None, claims: CheckpointClaims) -> str:
    """The compact JWS of a checkpoint."""
    key, algorithm, kid = _signer(settings, service_key)
    payload = {
        "iss": settings.jwt_issuer,
        "iat": int(claims.issued_at.timestamp()),
        "head_seq": claims.head_seq,
        "head_hash": claims.head_hash,
        "key_id": claims.key_id,
    }
    headers = {"kid": kid, "typ": CHECKPOINT_TYPE}
    return security.sign_jws(payload, key, headers=headers, algorithm=algorithm)


def is_anchored(token: str) -> bool:
    """Signed by the service's asymmetric key (verifiable by anyone with the JWKS)."""
    return bool(security.jws_header(token).get("alg") != "HS256")


def verify(settings: Settings, service_key: ServiceKey | None, token: str) -> CheckpointClaims:
    """R-AUDIT-1: the claims of a checkpoint signed by this service, or CheckpointInvalid."""
    key, algorithm, kid = _verifier(settings, service_key)
    if len(token.encode("utf-8", "ignore")) > MAX_CHECKPOINT_BYTES:
        raise CheckpointInvalid("Point de contrôle trop volumineux.")
    try:
        header = security.jws_header(token)
    except (ValueError, TypeError) as exc:
        raise CheckpointInvalid("Point de contrôle mal formé (JWS compact attendu).") from exc
    if not isinstance(header, dict):
        raise CheckpointInvalid("Point de contrôle mal formé (JWS compact attendu).")
    if header.get("typ") != CHECKPOINT_TYPE or "crit" in header:
        raise CheckpointInvalid("Ce JWS n'est pas un point de contrôle du journal d'audit.")
    if header.get("alg") != algorithm or header.get("kid") != kid:
        raise CheckpointInvalid(
            "Point de contrôle signé par une autre clé que celle du service (alg, kid)."
        )
    try:
        payload = security.verify_jws(token, key, algorithm=algorithm)
    except (ValueError, TypeError) as exc:
        raise CheckpointInvalid("Signature du point de contrôle invalide.") from exc
    try:
        claims = json.loads(payload)
    except ValueError as exc:
        raise CheckpointInvalid("Contenu du point de contrôle illisible.") from exc
    if not isinstance(claims, dict) or claims.get("iss") != settings.jwt_issuer:
        raise CheckpointInvalid("Point de contrôle d'un autre émetteur.")
    seq, hash_, key_id, iat = (claims.get(k) for k in ("head_seq", "head_hash", "key_id", "iat"))
    if (
        type(seq) is not int
        or not 0 <= seq <= MAX_INT32
        or not isinstance(hash_, str)
        or HASH_PATTERN.fullmatch(hash_) is None
        or not isinstance(key_id, str)
        or re.fullmatch(AUDIT_KEY_ID_PATTERN, key_id) is None
        or type(iat) is not int
        or not 0 <= iat <= time.time() + 60
    ):
        raise CheckpointInvalid("Point de contrôle incomplet (head_seq, head_hash, key_id, iat).")
    return CheckpointClaims(seq, hash_, key_id, datetime.fromtimestamp(iat, UTC))


async def create(
    session: AsyncSession, settings: Settings, service_key: ServiceKey | None
) -> AuditCheckpoint:
    """Sign the chain head as it is now, store and log the checkpoint (caller commits)."""
    head = (
        await session.execute(
            select(AuditChainHead.last_seq, AuditChainHead.last_hash).where(
                col(AuditChainHead.id) == 1
            )
        )
    ).first()
    head_seq, head_hash = (0, GENESIS_HASH) if head is None else (int(head[0]), str(head[1]))
    key_id = current_keyring().current
    if head_seq:
        sealed = await session.execute(
            select(AuditEvent.key_id).where(col(AuditEvent.seq) == head_seq)
        )
        key_id = sealed.scalar_one_or_none() or key_id
    claims = CheckpointClaims(head_seq, head_hash, key_id, datetime.now(UTC).replace(microsecond=0))
    token = sign(settings, service_key, claims)
    checkpoint = AuditCheckpoint(
        at=claims.issued_at, head_seq=head_seq, head_hash=head_hash, key_id=key_id, jws=token
    )
    session.add(checkpoint)
    await session.flush()
    logger.info("audit checkpoint seq=%d hash=%s jws=%s", head_seq, head_hash, token)
    return checkpoint


async def latest(session: AsyncSession) -> AuditCheckpoint | None:
    stmt = select(AuditCheckpoint).order_by(col(AuditCheckpoint.id).desc()).limit(1)
    return (await session.execute(stmt)).scalars().first()


async def publish_if_moved(
    session: AsyncSession, settings: Settings, service_key: ServiceKey | None
) -> AuditCheckpoint | None:
    """A new checkpoint when the head moved since the latest one (the periodic task's round)."""
    last = await latest(session)
    head = (
        await session.execute(select(AuditChainHead.last_seq).where(col(AuditChainHead.id) == 1))
    ).scalar_one_or_none()
    if head is None or (last is not None and last.head_seq == head):
        return None
    return await create(session, settings, service_key)


async def run_publisher(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    service_key: ServiceKey | None,
    stop: asyncio.Event,
) -> None:
    """Publish a checkpoint every `audit_checkpoint_interval_seconds` if the head moved."""
    interval = settings.audit_checkpoint_interval_seconds
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
            return
        try:
            async with sessionmaker() as session, session.begin():
                await publish_if_moved(session, settings, service_key)
        except Exception:
            logger.exception("audit checkpoint round failed")
