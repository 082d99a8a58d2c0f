"""The DS write-back worker: claims due `ds_mutation` rows, sends each to démarches-simplifiées,
settles it (issue 14). Claimed as the webhooks worker claims its deliveries: the oldest pending
mutation of each dossier only (a dossier's mutations go in order: into instruction, then the
decision), `FOR UPDATE SKIP LOCKED` on PostgreSQL, a lease so that a dead worker's claim is
taken again; retried with the webhooks' backoff (about a day), then failed.

- delivered: DS answered without `errors`;
- failed at once: the mutation's payload `errors` (DS refuses it: retrying cannot help);
- retried: network errors, timeouts, 5xx, 429, GraphQL `errors`, a missing configuration.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from app.core import outbox
from app.core.config import Settings
from app.ds.client import DsClient, DsError, DsMutationRefused
from app.ds.models import DsMutation
from app.ds.rules import MutationKind
from app.ds.write_back import real_now
from app.webhooks.rules import next_delay

logger = logging.getLogger("app.ds")
MAX_LOG = 20


@dataclass(frozen=True)
class Claim:
    mutation: DsMutation
    token: uuid.UUID


# Claimed and settled under a lease, as webhook deliveries are (`app.core.outbox`).
MUTATIONS = outbox.LeasedTable(DsMutation)


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, *, now: datetime, limit: int
) -> list[Claim]:
    """Lease the next due mutation of up to `limit` dossiers."""
    stmt = (
        select(DsMutation)
        .where(MUTATIONS.oldest_pending_per("dossier_id"))
        .order_by(col(DsMutation.id))
    )
    leased = await outbox.claim_due(
        sessionmaker,
        MUTATIONS,
        stmt,
        now=now,
        limit=limit,
        lease_seconds=settings.webhook_lease_seconds,
    )
    return [Claim(mutation, token) for (mutation,), token in leased]


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    final: bool
    error: str | None


async def send(client: DsClient | None, settings: Settings, mutation: DsMutation) -> Outcome:
    if client is None:
        return Outcome(False, False, "Jeton de l'API démarches-simplifiées non configuré.")
    if not settings.ds_instructeur_id:
        return Outcome(False, False, "instructeurId de démarches-simplifiées non configuré.")
    try:
        await client.mutate(
            MutationKind(mutation.kind),
            dossier_id=mutation.dossier_id,
            instructeur_id=settings.ds_instructeur_id,
            client_mutation_id=mutation.client_mutation_id,
            motivation=mutation.motivation,
        )
    except DsMutationRefused as exc:
        return Outcome(False, True, exc.message[:500])
    except DsError as exc:
        return Outcome(False, False, exc.message[:500])
    return Outcome(True, True, None)


async def settle(
    sessionmaker: async_sessionmaker[AsyncSession], item: Claim, outcome: Outcome, now: datetime
) -> None:
    mutation = item.mutation
    log = [*mutation.attempt_log, {"at": now.isoformat(), "error": outcome.error}][-MAX_LOG:]
    values: dict[str, Any] = {"attempt_log": log, "last_error": outcome.error}
    if outcome.delivered:
        values.update(status="delivered", delivered_at=now)
    elif outcome.final:
        values["status"] = "failed"
    else:
        values.update(MUTATIONS.retry_later(now, next_delay(mutation.attempts)))
    async with sessionmaker() as session, session.begin():
        await outbox.settle(session, MUTATIONS, mutation.id, item.token, values)


def make_client(settings: Settings) -> DsClient | None:
    """The worker's client: no retries of its own (the outbox retries, with its backoff)."""
    if settings.ds_api_token is None:
        return None
    return DsClient(settings, retries=0)


async def deliver_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    now: datetime | None = None,
) -> int:
    """One round: claim what is due, send it (dossiers in parallel), settle. Returns how many
    mutations were attempted. `now` lets tests jump over the backoff."""
    moment = now or real_now()
    claims = await claim(sessionmaker, settings, now=moment, limit=settings.webhook_batch_size)
    if not claims:
        return 0
    client = make_client(settings)
    try:

        async def one(item: Claim) -> None:
            outcome = await send(client, settings, item.mutation)
            if outcome.error:
                logger.info("ds mutation %s: %s", item.mutation.id, outcome.error)
            await settle(sessionmaker, item, outcome, now or real_now())

        await asyncio.gather(*(one(item) for item in claims))
    finally:
        if client is not None:
            await client.aclose()
    return len(claims)


async def run_worker(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, stop: asyncio.Event
) -> None:
    """Write decisions back to DS until `stop` is set; errors are logged and the loop goes on."""
    await outbox.run_rounds(
        lambda: deliver_once(sessionmaker, settings),
        stop,
        poll_seconds=settings.webhook_poll_seconds,
        name="ds",
        log=logger,
    )
