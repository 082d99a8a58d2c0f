"""The notification worker: claims due outbox rows, renders and sends them, settles each
(R-NOTIF-1), like the webhooks' worker.

- Claim: one short transaction leases up to a batch of due rows, with `FOR UPDATE SKIP
  LOCKED` on PostgreSQL so that several workers (several instances sharing one database)
  never claim the same row (SQLite: one writer at a time). A worker that dies before settling
  leaves its lease to expire: the row is claimed again, never lost (at least once).
- Before sending, the worker checks in its own transaction that it still holds the row (same
  lease token, still pending): a worker whose lease expired while another one took the row
  over and sent it does not send a second time. Each message carries a Message-ID derived
  from the event and the recipient (`rules.message_id`): a resend after a crash between the
  relay's acceptance and the settle is the same message, recognisable by the recipient.
- Send: to the SMTP relay (`aiosmtplib`: STARTTLS or implicit TLS, authentication, timeout);
  without a relay (development) the message is written as `<message-id>.eml` under
  `notification_mail_dir` (the same file again on a resend), never dropped.
- Settle: sent; a permanent refusal of the recipient or the message (5xx to RCPT or DATA)
  fails at once; anything else (4xx, the relay's authentication or sender refusals, connection
  refused, timeout) is retried after the backoff (`rules.retry_delay`), and fails after
  `notification_max_attempts` tries. A failed row stays readable (GET
  /projects/{id}/notifications) and is counted in /metrics.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from app.core import outbox
from app.core.config import Settings
from app.notifications import service
from app.notifications.models import Notification
from app.notifications.render import build_message, render
from app.notifications.rules import Kind, redact, retry_delay

logger = logging.getLogger("app.notifications")


@dataclass(frozen=True)
class Claim:
    notification: Notification
    token: uuid.UUID


# Claimed, renewed and settled under a lease (`app.core.outbox`).
NOTIFICATIONS = outbox.LeasedTable(Notification)


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    now: datetime,
    limit: int,
) -> list[Claim]:
    """Lease up to `limit` due rows, oldest first."""
    leased = await outbox.claim_due(
        sessionmaker,
        NOTIFICATIONS,
        select(Notification).order_by(col(Notification.id)),
        now=now,
        limit=limit,
        lease_seconds=settings.notification_lease_seconds,
    )
    return [Claim(notification, token) for (notification,), token in leased]


async def still_ours(
    sessionmaker: async_sessionmaker[AsyncSession], item: Claim, settings: Settings
) -> bool:
    """The record that stops a second send: the row is still pending under our lease (renewed
    for the time of the send)."""
    until = service.real_now() + timedelta(seconds=settings.notification_lease_seconds)
    async with sessionmaker() as session, session.begin():
        return await outbox.renew(
            session, NOTIFICATIONS, item.notification.id, item.token, until=until
        )


@dataclass(frozen=True)
class Outcome:
    sent: bool
    permanent: bool = False
    error: str | None = None


def _write_file(directory: Path, name: str, content: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".{name}.tmp"
    partial.write_bytes(content)
    partial.replace(directory / name)  # atomic: a reader never sees half a message


async def send(settings: Settings, notification: Notification) -> Outcome:
    rendered = render(Kind(notification.kind), notification.context, settings.frontend_url)
    message = build_message(
        rendered,
        sender=settings.smtp_from,
        recipient=notification.recipient,
        message_id=notification.message_id,
    )
    if settings.smtp_host is None:
        name = notification.message_id.strip("<>").replace("/", "_") + ".eml"
        await asyncio.to_thread(
            _write_file, settings.notification_mail_dir, name, message.as_bytes()
        )
        return Outcome(sent=True)
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    try:
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            use_tls=settings.smtp_tls,
            start_tls=settings.smtp_starttls and not settings.smtp_tls,
            username=settings.smtp_username,
            password=password,
            timeout=settings.smtp_timeout_seconds,
            cert_bundle=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:  # RCPT: this recipient is refused
        codes = [r.code for r in exc.recipients]
        permanent = all(code >= 500 for code in codes)
        return Outcome(False, permanent, f"destinataire refusé ({', '.join(map(str, codes))})")
    except aiosmtplib.SMTPDataError as exc:  # DATA: this message is refused
        return Outcome(False, exc.code >= 500, f"SMTP {exc.code}: {exc.message}"[:500])
    except aiosmtplib.SMTPResponseException as exc:
        # The relay's own configuration (authentication, sender, TLS): retried, even a 5xx,
        # so that a misconfiguration fixed within the tries loses no message.
        return Outcome(False, False, f"SMTP {exc.code}: {exc.message}"[:500])
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return Outcome(False, False, f"{type(exc).__name__}: {exc}"[:500])
    return Outcome(sent=True)


async def settle(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    item: Claim,
    outcome: Outcome,
    now: datetime,
) -> None:
    values: dict[str, object] = {}
    if outcome.sent:
        values.update(status="sent", sent_at=now, last_error=None)
    else:
        values["last_error"] = redact(outcome.error or "erreur")[:500]
        delay = (
            None
            if outcome.permanent
            else retry_delay(item.notification.attempts, settings.notification_max_attempts)
        )
        values.update(NOTIFICATIONS.retry_later(now, delay))
    async with sessionmaker() as session, session.begin():
        await outbox.settle(session, NOTIFICATIONS, item.notification.id, item.token, values)


async def process(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    claims: list[Claim],
    *,
    now: datetime | None = None,
) -> None:
    """Send what was claimed, one at a time, and settle each."""
    for item in claims:
        if not await still_ours(sessionmaker, item, settings):
            continue  # another worker took the row over (our lease expired)
        started = time.perf_counter()
        try:
            outcome = await send(settings, item.notification)
        except Exception as exc:  # a template or a file error: retried, visible
            logger.exception("notification %s: not sent", item.notification.id)
            outcome = Outcome(False, False, f"{type(exc).__name__}: {exc}"[:500])
        # Logged by row id and kind only: the address is personal data (R-NOTIF-1).
        verdict = "sent" if outcome.sent else "permanent" if outcome.permanent else "retry"
        logger.info(
            "notification %s (%s): %s in %d ms",
            item.notification.id,
            item.notification.kind,
            verdict,
            int((time.perf_counter() - started) * 1000),
        )
        await settle(sessionmaker, settings, item, outcome, now or service.real_now())


async def deliver_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    now: datetime | None = None,
) -> int:
    """One round: claim what is due, send each, settle. Returns how many were attempted.
    `now` lets tests jump over the backoff and the leases."""
    moment = now or service.real_now()
    claims = await claim(sessionmaker, settings, now=moment, limit=settings.notification_batch_size)
    await process(sessionmaker, settings, claims, now=now)
    return len(claims)


async def check_due(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """R-COM-1: queue the committee-due notices (once per period, see the service), for every
    published programme (R-PROG-2: each has its committees, threshold and interval)."""
    from app.programme.models import Programme, ProgrammeStatus

    async with sessionmaker() as session, session.begin():
        codes = (
            await session.execute(
                select(Programme.code)
                .where(col(Programme.status) == ProgrammeStatus.PUBLISHED.value)
                .order_by(col(Programme.code))
            )
        ).scalars()
        queued = 0
        for code in list(codes):
            queued += await service.queue_committee_due(session, programme_code=code)
        return queued


async def run_worker(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, stop: asyncio.Event
) -> None:
    """Send until `stop` is set; look for due committees every
    `notification_due_check_seconds` (0: never)."""
    service.use_settings(settings)
    last_check = [0.0]

    async def round_once() -> int:
        interval = settings.notification_due_check_seconds
        if interval > 0 and time.monotonic() - last_check[0] >= interval:
            last_check[0] = time.monotonic()
            try:
                await check_due(sessionmaker, settings)
            except Exception:
                logger.exception("committee-due check failed")
        return await deliver_once(sessionmaker, settings)

    await outbox.run_rounds(
        round_once,
        stop,
        poll_seconds=settings.notification_poll_seconds,
        name="notification",
        log=logger,
    )
