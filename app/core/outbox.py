"""Leased work queues: the outbox-like tables that workers drain (webhook deliveries, DS
write-back mutations, e-mail notifications, document scans).

- A row is *due* when it is pending, its due time has come (a null due time: now) and no live
  lease holds it (none, or expired).
- Claim (`claim_due`): one short transaction selects due rows with `FOR UPDATE SKIP LOCKED`
  on PostgreSQL, so that several workers never claim the same row (SQLite renders no
  `FOR UPDATE`: it has one writer at a time), and leases each one until `now + lease` under a
  fresh token, its attempts counted. The work happens afterwards, outside any transaction.
- Settle (`settle`): the outcome is written, and the lease released, only while the worker
  still holds the token: a worker whose lease expired, and whose row another worker claimed
  again, writes nothing. A worker that dies leaves its lease to expire: the row is claimed
  again, never lost (at least once).
- Retry (`LeasedTable.retry_later`): after a failed attempt the row is due again after its
  domain's backoff, or failed once the schedule is exhausted.
- Loop (`run_rounds`): rounds back to back while they find work, else a poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, Select, and_, exists, or_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

logger = logging.getLogger("app.outbox")


@dataclass(frozen=True)
class LeasedTable:
    """A table's columns through which it is claimed, by attribute name (the defaults are the
    outbox tables'); a name the model lacks fails at import."""

    model: type[Any]
    status: str = "status"
    due_at: str = "next_attempt_at"
    lease_until: str = "lease_until"
    lease_token: str = "lease_token"
    attempts: str = "attempts"
    id: str = "id"
    pending: str = "pending"
    failed: str = "failed"

    def __post_init__(self) -> None:
        for name in (self.id, self.status, self.due_at, self.lease_until, self.lease_token):
            self.column(name)
        self.column(self.attempts)

    def column(self, name: str) -> Any:
        return getattr(self.model, name)

    def claimable(self, now: datetime) -> ColumnElement[bool]:
        """Pending, due (a null due time is due), not under a live lease."""
        due = self.column(self.due_at)
        due_now: ColumnElement[bool] = due <= now
        if self.model.__table__.c[self.due_at].nullable:
            due_now = or_(due.is_(None), due_now)
        lease = self.column(self.lease_until)
        return and_(
            self.column(self.status) == self.pending,
            due_now,
            or_(lease.is_(None), lease < now),
        )

    def oldest_pending_per(self, group: str) -> ColumnElement[bool]:
        """Only the oldest pending row (by id) of its group: a group's rows go one at a time,
        in order (a webhook subscription's deliveries, a DS dossier's mutations)."""
        earlier = aliased(self.model)
        return ~exists().where(
            getattr(earlier, group) == self.column(group),
            getattr(earlier, self.status) == self.pending,
            getattr(earlier, self.id) < self.column(self.id),
        )

    def held(self, row_id: Any, token: uuid.UUID) -> ColumnElement[bool]:
        """The row, still under this lease token."""
        return and_(self.column(self.id) == row_id, self.column(self.lease_token) == token)

    def released(self) -> dict[str, Any]:
        return {self.lease_until: None, self.lease_token: None}

    def retry_later(self, now: datetime, delay: timedelta | None) -> dict[str, Any]:
        """After a failed attempt: due again `delay` from now, or failed when the backoff
        schedule is exhausted (None)."""
        if delay is None:
            return {self.status: self.failed}
        return {self.due_at: now + delay}


async def claim_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    table: LeasedTable,
    stmt: Select[*tuple[Any, ...]],
    *,
    now: datetime,
    limit: int,
    lease_seconds: float,
) -> list[tuple[Row[*tuple[Any, ...]], uuid.UUID]]:
    """Lease up to `limit` due rows of `stmt` (a select whose first entity is `table`'s model,
    with the caller's own filters, joins and order) and return each result row (its objects
    detached) with its lease token."""
    stmt = (
        stmt.where(table.claimable(now))
        .limit(limit)
        .with_for_update(skip_locked=True, of=table.model)  # nothing on SQLite
    )
    until = now + timedelta(seconds=lease_seconds)
    async with sessionmaker() as session, session.begin():
        rows = (await session.execute(stmt)).all()
        leased = []
        for row in rows:
            leased_row = row[0]
            token = uuid.uuid4()
            setattr(leased_row, table.lease_until, until)
            setattr(leased_row, table.lease_token, token)
            setattr(leased_row, table.attempts, getattr(leased_row, table.attempts) + 1)
            leased.append((row, token))
        await session.flush()
        session.expunge_all()  # the rows' objects outlive this transaction, detached
    return leased


async def settle(
    session: AsyncSession,
    table: LeasedTable,
    row_id: Any,
    token: uuid.UUID,
    values: dict[str, Any],
) -> bool:
    """Write a worker's outcome and release its lease, if it still holds it. False (nothing
    written): its lease expired and another worker took the row over."""
    result = await session.execute(
        update(table.model)
        .where(table.held(row_id, token))
        .values(**values, **table.released())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def renew(
    session: AsyncSession, table: LeasedTable, row_id: Any, token: uuid.UUID, *, until: datetime
) -> bool:
    """Extend the lease of a row still pending under this token; False when it is no longer
    ours (another worker took it over, or it was settled)."""
    result = await session.execute(
        update(table.model)
        .where(table.held(row_id, token), table.column(table.status) == table.pending)
        .values({table.lease_until: until})
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def run_rounds(
    round_once: Callable[[], Awaitable[int]],
    stop: asyncio.Event,
    *,
    poll_seconds: float,
    name: str,
    log: logging.Logger = logger,
) -> None:
    """A worker's loop: run rounds back to back while they find work, else wait
    `poll_seconds` or until `stop` is set; a failed round is logged and the loop goes on (the
    rows it leased are retried once their lease expires)."""
    while not stop.is_set():
        try:
            done = await round_once()
        except Exception:
            log.exception("%s worker round failed", name)
            done = 0
        if done:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
