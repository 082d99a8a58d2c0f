"""The malware scan worker (R-DOC-2): pending documents → clean | infected, through clamd.

Claimed like the webhook outbox (`app.core.outbox`): a batch of due pending documents is
leased in one short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several workers
never scan the same document; SQLite has one writer), then each is streamed from storage to
clamd (INSTREAM) outside any transaction, and its verdict written back under its lease token.
clamd down: the document stays `pending`, its next attempt pushed back (`rules.scan_retry_delay`);
a worker that dies mid-scan leaves its lease to expire. Each verdict is audited; an infected
document is kept in quarantine, never served.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from app.audit import service as audit_service
from app.auth.principal import Principal, Role
from app.core import outbox
from app.core.config import Settings
from app.core.types import utcnow
from app.documents import rules, scanner
from app.documents.models import Document
from app.documents.rules import ScanStatus
from app.documents.storage import DocumentStorage, StoredObjectMissing

logger = logging.getLogger("app.documents.scan")

# Whom the audit trail names for a verdict (no role of its own: `actor_role` "scanner").
SCANNER = Principal("clamd", Role.DINUM)


@dataclass
class ScannerState:
    """What the last round saw of clamd (for /metrics), and when staging was last swept."""

    up: bool | None = None
    swept_at: datetime | None = None


# Staging objects older than this are what a crash mid-upload left: swept every SWEEP_EVERY.
STAGING_MAX_AGE = timedelta(hours=1)
SWEEP_EVERY = timedelta(minutes=10)


STATE = ScannerState()


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    storage_key: str
    departement: str | None
    attempts: int
    token: uuid.UUID


# The scan's claim, under the document's own lease columns (`app.core.outbox`).
SCANS = outbox.LeasedTable(
    Document,
    status="scan_status",
    due_at="scan_next_at",
    lease_until="scan_lease_until",
    lease_token="scan_lease_token",
    attempts="scan_attempts",
    pending=ScanStatus.PENDING.value,
)


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    now: datetime,
    limit: int,
) -> list[Claimed]:
    """Lease up to `limit` pending documents whose next attempt is due."""
    leased = await outbox.claim_due(
        sessionmaker,
        SCANS,
        select(Document).order_by(col(Document.scan_next_at), col(Document.id)),
        now=now,
        limit=limit,
        lease_seconds=settings.documents_scan_lease_seconds,
    )
    return [
        Claimed(doc.id, doc.storage_key, doc.departement, doc.scan_attempts, token)
        for (doc,), token in leased
    ]


async def _settle(
    sessionmaker: async_sessionmaker[AsyncSession],
    item: Claimed,
    *,
    now: datetime,
    verdict: scanner.Verdict | None,
    error: str | None,
) -> None:
    values: dict[str, object] = {}
    if verdict is None:
        delay = timedelta(seconds=rules.scan_retry_delay(item.attempts))
        values.update(SCANS.retry_later(now, delay))
        values["scan_detail"] = (error or "")[:200] or None
    else:
        status = ScanStatus.INFECTED if verdict.infected else ScanStatus.CLEAN
        values.update(
            scan_status=status.value,
            scan_detail=verdict.signature,
            scanned_at=now,
            updated_at=utcnow(),  # R-SYNC-1: lists compare with the business clock
        )
    async with sessionmaker() as session, session.begin():
        settled = await outbox.settle(session, SCANS, item.id, item.token, values)
        if not settled or verdict is None:
            return  # lease lost to another worker, or nothing to audit yet
        await audit_service.record(
            session,
            SCANNER,
            object_type="document",
            object_id=item.id,
            departement=item.departement,
            action="quarantined" if verdict.infected else "scanned",
            after={"scan_status": values["scan_status"], "signature": verdict.signature},
            actor_role="scanner",
        )
        if verdict.infected:
            logger.warning("document %s infected: %s (quarantined)", item.id, verdict.signature)


async def scan_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    storage: DocumentStorage,
    *,
    now: datetime | None = None,
) -> int:
    """One round: claim due documents, scan each, write the verdicts. Returns how many were
    claimed. `now` lets tests jump over the backoff."""
    url = settings.documents_scanner_url
    if url is None:
        return 0
    at = now or utcnow()
    items = await claim(sessionmaker, settings, now=at, limit=settings.documents_scan_batch_size)
    for item in items:
        verdict: scanner.Verdict | None = None
        error: str | None = None
        try:
            verdict = await scanner.scan(url, await storage.read(item.storage_key))
            STATE.up = True
        except scanner.ScannerUnavailable as exc:
            STATE.up = False
            error = str(exc)
            logger.warning("document %s not scanned, retried later: %s", item.id, exc)
        except StoredObjectMissing:
            error = "contenu introuvable dans le stockage"
            logger.error("document %s: stored bytes missing (%s)", item.id, item.storage_key)
        await _settle(sessionmaker, item, now=at, verdict=verdict, error=error)
    await sweep(storage)
    return len(items)


async def sweep(storage: DocumentStorage, *, now: datetime | None = None) -> int:
    """Every SWEEP_EVERY, delete the staging objects an interrupted upload left (issue 24).
    Object stores date their objects in real time: so does this."""
    real = now or datetime.now(UTC)
    if STATE.swept_at is not None and real - STATE.swept_at < SWEEP_EVERY:
        return 0
    STATE.swept_at = real
    try:
        swept = await storage.sweep_staging(real - STAGING_MAX_AGE)
    except Exception:
        logger.exception("staging sweep failed")
        return 0
    if swept:
        logger.info("swept %d staging objects left by interrupted uploads", swept)
    return swept


async def run_worker(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    storage: DocumentStorage,
    stop: asyncio.Event,
) -> None:
    """Scan until `stop` is set; errors are logged and the loop goes on."""
    await outbox.run_rounds(
        lambda: scan_once(sessionmaker, settings, storage),
        stop,
        poll_seconds=settings.documents_scan_poll_seconds,
        name="document scan",
        log=logger,
    )


def start(app: Any, stop: asyncio.Event) -> asyncio.Task[None] | None:
    """The app's scan worker task, when a scanner is configured (the lifespan awaits it)."""
    settings: Settings = app.state.settings
    if settings.documents_scanner_url is None or not settings.documents_scan_worker_enabled:
        return None
    from app.documents.router import storage_of

    return asyncio.create_task(
        run_worker(app.state.sessionmaker, settings, storage_of(app.state), stop)
    )
