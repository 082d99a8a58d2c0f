"""The audit trail (R-AUDIT-1): record a change, append it to the hash chain at commit, read
and verify the chain.

Every domain calls `record(...)` in the transaction of the change it audits. The event is only
buffered on the session; it is appended to the chain by the session's `before_commit` hook,
the last thing the transaction does: the chain head row is locked there (PostgreSQL:
`SELECT … FOR UPDATE`; SQLite: BEGIN IMMEDIATE already made the transaction the only writer),
the buffered events take the next sequence numbers and hashes, and the lock is released by the
COMMIT that follows at once. So the chain stays linear under concurrent writers, the head is
held for as short a time as possible, `seq` is the commit order (a gap-free change feed) and a
rolled-back change leaves no event.

Issue 28: a burst of writes queues on the head, each round trip under its lock waiting for the
event loop besides the database. What needs nothing of the chain runs before the lock
(`before_append`); what must be written under it may ride with the append (`rides_append`):
on PostgreSQL, one event's append, the head's move and the riders' writes are one statement, so
that the lock holds three round trips (its own, the append, the COMMIT).

Savepoints: an event recorded inside `session.begin_nested()` that is rolled back stays
buffered; record after the savepoint, as the domains do.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    Select,
    bindparam,
    event,
    func,
    insert,
    select as sa_select,
    true,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col, select

from app.audit.errors import AuditForbidden
from app.audit.models import AuditChainHead, AuditEvent
from app.audit.rules import (
    GENESIS_HASH,
    ChainBreak,
    ChainCheck,
    EventContent,
    JsonValue,
    Keyring,
    StoredEvent,
    changed_fields,
    check_checkpoint,
    check_head,
    event_hash,
    past_head,
    summarise,
    verify_chain,
)
from app.auth.principal import Principal, Role
from app.core import rawsql
from app.core.config import Settings, get_settings
from app.core.db import transaction_info
from app.core.pagination import PageParams
from app.core.types import utcnow

# transaction_info: the events a transaction buffers, appended by its commit (a rolled-back
# transaction leaves none: they are forgotten with it)
_PENDING = "audit.pending"
AUDIT_TABLE = AuditEvent.__table__  # type: ignore[attr-defined]
VERIFY_BATCH = 1000

AppendListener = Callable[[Session, list[dict[str, Any]]], None]
_append_listeners: list[AppendListener] = []


def on_append(listener: AppendListener) -> AppendListener:
    """Register `listener(sync_session, events)`, called in the same transaction right after
    events are appended (each a dict of AuditEvent's columns): how the webhooks' outbox is
    fed. It runs under the chain head's lock: keep it to a few INSERTs."""
    _append_listeners.append(listener)
    return listener


_prepare_listeners: list[AppendListener] = []


def before_append(listener: AppendListener) -> AppendListener:
    """Register `listener(sync_session, events)`, called in the same transaction right before
    the events are appended, after the change's flush and before the chain head's lock is
    taken: the events have no `seq`, `prev_hash`, `hash` nor `key_id` yet. For what needs
    nothing of the chain (the e-mail outbox, the webhooks' read of their subscriptions): issue
    28, the statements it runs are not held under the lock that a burst of submissions queues
    on."""
    _prepare_listeners.append(listener)
    return listener


_LOCK_READ = "audit.lock_read"  # transaction_info: the read that rides the head's lock


def read_with_lock(
    session: Session,
    stmt: Select[Any],
    params: dict[str, Any],
    consume: Callable[[Sequence[Any]], None],
) -> None:
    """For a `before_append` listener: run `stmt` and hand its rows to `consume` before the
    riders are called. On PostgreSQL the read is part of the chain head's lock statement (a
    LATERAL join of the head's row: issue 28, one round trip less a write); elsewhere, or when
    another read already rides, it runs now. `stmt`'s first column is never NULL in a row it
    returns.

    The lock statement reads in the snapshot it took before waiting for the lock, as a read
    made just before it does: ride only a read of rows whose writers this transaction already
    holds off (their rows locked by its earlier statements)."""
    info = transaction_info(session)
    connection = session.connection()
    if connection.dialect.name != "postgresql" or _LOCK_READ in info:
        consume(rawsql.fetch_sync(connection, stmt, params))
    else:
        info[_LOCK_READ] = (stmt, params, consume)


Rider = tuple[Executable, dict[str, Any]]
RiderListener = Callable[[Session, list[dict[str, Any]]], Rider | None]
_riders: list[RiderListener] = []


def rides_append(listener: RiderListener) -> RiderListener:
    """Register `listener(sync_session, events)`, called under the chain head's lock with the
    events about to be appended (their `seq` and `hash` set): it may run its statements itself
    (and return None) or return one statement and its parameters, which run with the append:
    on PostgreSQL, when one event is appended, as a data-modifying WITH of the append's own
    statement (issue 28: one round trip less under the lock that a burst of submissions queues
    on); else right after it. Its parameters' names must differ from the append's (`e_…`,
    `new_seq`, `new_hash`) and from the other riders'."""
    _riders.append(listener)
    return listener


_keyring: Keyring | None = None


def keyring_of(settings: Settings) -> Keyring:
    """R-AUDIT-1: the chain's keys from the settings (GUICHET_AUDIT_KEYS, GUICHET_AUDIT_KEY_ID)."""
    return Keyring(
        keys={k: v.get_secret_value().encode("utf-8") for k, v in settings.audit_keys.items()},
        current=settings.current_audit_key_id,
    )


def use_keyring(keyring: Keyring) -> None:
    """Set the process's audit keys (create_app does, from its settings)."""
    global _keyring
    _keyring = keyring


def current_keyring() -> Keyring:
    """The keys that seal and verify the chain: as set by create_app, else the settings'."""
    global _keyring
    if _keyring is None:
        _keyring = keyring_of(get_settings())
    return _keyring


def actor_scope(principal: Principal) -> str | None:
    """What the actor's role reaches: a prefect's département, a candidate's SIREN."""
    if principal.role is Role.PREFECT:
        return principal.departement
    if principal.role is Role.CANDIDATE:
        return principal.siren
    return None


UNAUDITED_COLUMNS = frozenset({"id", "version", "created_at", "updated_at"})


def snapshot(
    obj: Any, fields: Iterable[str] | None = None, *, exclude: Iterable[str] = ()
) -> dict[str, JsonValue]:
    """The state of a loaded row for `record(before=…, after=…)`, summarised at once (so a
    later change of the object cannot alter it): the named attributes, or every column but
    its id, version and timestamps."""
    if fields is None:
        skipped = UNAUDITED_COLUMNS | set(exclude)
        fields = [c.key for c in obj.__table__.columns if c.key not in skipped]
    return {name: summarise(getattr(obj, name)) for name in fields}


async def record(
    session: AsyncSession,
    principal: Principal,
    *,
    object_type: str,
    object_id: uuid.UUID | str,
    departement: str | None,
    action: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    actor_role: str | None = None,
) -> bool:
    """R-AUDIT-1: audit one change in the caller's transaction (appended at its commit).

    `object_type` is a stable lowercase noun (`project`, `candidate`, `envelope`, `grant`,
    `programme`, `forfaits`, …), `action` a stable verb (`created`, `updated`,
    `status_changed`, `allocation`, `commitment`, …), `departement` the object's département
    (None for national objects: then only DINUM reads the event). `before`/`after` are the
    object's fields before and after the change (None on creation/deletion); only the fields
    that changed are kept. Returns False (nothing recorded) when no field changed.
    `actor_role` names an actor that has no role yet (a refused sign-in: "unmapped").
    """
    old, new = changed_fields(before, after)
    if before is not None and after is not None and not old and not new:
        return False
    await session.connection()  # begin the transaction now: its end settles the event
    pending: list[dict[str, Any]] = transaction_info(session).setdefault(_PENDING, [])
    pending.append(
        {
            "id": uuid.uuid4(),
            "at": utcnow(),
            "actor_subject": principal.subject,
            "actor_role": actor_role or principal.role.value,
            "actor_scope": None if actor_role else actor_scope(principal),
            "object_type": object_type,
            "object_id": str(object_id),
            "departement": departement,
            "action": action,
            "before": old,
            "after": new,
        }
    )
    return True


def _content(row: Mapping[str, Any]) -> EventContent:
    return EventContent(
        seq=row["seq"],
        id=row["id"],
        key_id=row["key_id"],
        at=row["at"],
        actor_subject=row["actor_subject"],
        actor_role=row["actor_role"],
        actor_scope=row["actor_scope"],
        object_type=row["object_type"],
        object_id=row["object_id"],
        departement=row["departement"],
        action=row["action"],
        before=row["before"],
        after=row["after"],
        prev_hash=row["prev_hash"],
    )


HEAD_TABLE = AuditChainHead.__table__  # type: ignore[attr-defined]
# Issue 28: the append's statements, built once (Core, on the session's connection: no ORM
# statement setup nor bulk-insert machinery under the chain head's lock).
_LOCK_HEAD = (
    sa_select(HEAD_TABLE.c.last_seq, HEAD_TABLE.c.last_hash)
    .where(HEAD_TABLE.c.id == 1)
    .with_for_update()
)


@cache
def _lock_riding(stmt: Select[Any]) -> Select[Any]:
    """`_LOCK_HEAD` with `stmt`'s rows beside the head's (one row of NULLs when it has none),
    built once per ridden statement."""
    ridden = stmt.lateral("ridden")
    return (
        sa_select(HEAD_TABLE.c.last_seq, HEAD_TABLE.c.last_hash, *ridden.c)
        .select_from(HEAD_TABLE.outerjoin(ridden, true()))
        .where(HEAD_TABLE.c.id == 1)
        .with_for_update(of=HEAD_TABLE)
    )


def _lock_head(session: Session, connection: Connection) -> Any:
    """The chain head's row, locked (FOR UPDATE on PostgreSQL), with the read that rides it
    (`read_with_lock`) handed to its listener; None on a database without it."""
    ridden = transaction_info(session).pop(_LOCK_READ, None)
    if ridden is None:
        return rawsql.fetchrow_sync(connection, _LOCK_HEAD, {})  # PostgreSQL: asyncpg's own
    stmt, params, consume = ridden
    rows = rawsql.fetch_sync(connection, _lock_riding(stmt), params)
    if not rows:  # no head: the read runs on its own
        consume(rawsql.fetch_sync(connection, stmt, params))
        return None
    read = (tuple(row)[2:] for row in rows)
    consume([values for values in read if values[0] is not None])  # NULLs: no row read
    return rows[0]


_INSERT_EVENTS = insert(AUDIT_TABLE)
_MOVE_HEAD = (
    update(HEAD_TABLE)
    .where(HEAD_TABLE.c.id == 1)
    .values(last_seq=bindparam("new_seq"), last_hash=bindparam("new_hash"))
)

# PostgreSQL: one event's INSERT and the head's UPDATE in one statement (a data-modifying WITH
# runs exactly once, in the same snapshot and transaction as the UPDATE).
_APPEND_ONE = _MOVE_HEAD.add_cte(
    insert(AUDIT_TABLE)
    .values({c.name: bindparam(f"e_{c.name}", type_=c.type) for c in AUDIT_TABLE.columns})
    .cte("appended")
)


@cache
def _append_riding(statements: tuple[Executable, ...]) -> Executable:
    """`_APPEND_ONE` with each rider's statement as a data-modifying WITH of its own (each runs
    exactly once, in the same snapshot), built once per tuple of riders' statements."""
    if not statements:
        return _APPEND_ONE
    ctes = (s.cte(f"rider_{i}") for i, s in enumerate(statements))  # type: ignore[attr-defined]
    return _APPEND_ONE.add_cte(*ctes)


@event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    """Append the transaction's buffered events to the chain, as its last statements."""
    if session.in_nested_transaction():
        return
    pending: list[dict[str, Any]] = transaction_info(session).pop(_PENDING, [])
    if not pending:
        return
    session.flush()  # the change itself first: the head's lock is taken after it
    for prepare in _prepare_listeners:  # what needs nothing of the chain, before its lock
        prepare(session, pending)
    connection = session.connection()
    head = _lock_head(session, connection)
    if head is None:  # a database built without the migration (which creates the head)
        connection.execute(insert(HEAD_TABLE).values(id=1, last_seq=0, last_hash=GENESIS_HASH))
        last_seq, last_hash = 0, GENESIS_HASH
    else:
        last_seq, last_hash = int(head[0]), str(head[1])
    keyring = current_keyring()
    key = keyring.keys[keyring.current]
    rows = []
    for item in pending:
        row = {**item, "seq": last_seq + 1, "prev_hash": last_hash, "key_id": keyring.current}
        row["hash"] = event_hash(_content(row), key)
        rows.append(row)
        last_seq, last_hash = row["seq"], row["hash"]
    moved = {"new_seq": last_seq, "new_hash": last_hash}
    riding = [rider for rider in (ride(session, rows) for ride in _riders) if rider is not None]
    if len(rows) == 1 and connection.dialect.name == "postgresql":
        # The event, the head's move and the riders' writes in one statement: the round trips
        # under the lock are its own, this one and the COMMIT's.
        appended = {**{f"e_{k}": v for k, v in rows[0].items()}, **moved}
        for _, params in riding:
            appended.update(params)
        stmt = _append_riding(tuple(statement for statement, _ in riding))
        rawsql.fetchrow_sync(connection, stmt, appended)
    else:
        connection.execute(_INSERT_EVENTS, rows)
        connection.execute(_MOVE_HEAD, moved)
        for statement, params in riding:
            rawsql.fetchrow_sync(connection, statement, params)
    for listener in _append_listeners:
        listener(session, rows)


# -- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    object_type: str | None = None
    object_id: str | None = None
    actor: str | None = None
    action: str | None = None
    at_from: datetime | None = None
    at_to: datetime | None = None
    after: int | None = None


def up_to_head() -> ColumnElement[bool]:
    """R-AUDIT-1: events up to the recorded head only, for every reader of the chain (a row
    past the head was not appended by the service: never served, never replayed)."""
    head_seq = select(AuditChainHead.last_seq).where(col(AuditChainHead.id) == 1)
    return col(AuditEvent.seq) <= head_seq.scalar_subquery()


def check_reader(principal: Principal) -> None:
    """DINUM reads every event, a prefect its département's; anyone else is refused."""
    if principal.role not in (Role.DINUM, Role.PREFECT):
        raise AuditForbidden()


async def list_events(
    session: AsyncSession, principal: Principal, *, filters: AuditFilters, page: PageParams
) -> tuple[list[AuditEvent], str | None]:
    """Events in scope in sequence (= commit) order, one page after a sequence number.

    R-AUDIT-1: never past the recorded head (a row there was not appended by the service)."""
    check_reader(principal)
    stmt = select(AuditEvent).where(up_to_head())
    if principal.role is Role.PREFECT:
        stmt = stmt.where(AuditEvent.departement == principal.departement)
    if filters.object_type is not None:
        stmt = stmt.where(AuditEvent.object_type == filters.object_type)
    if filters.object_id is not None:
        stmt = stmt.where(AuditEvent.object_id == filters.object_id)
    if filters.actor is not None:
        stmt = stmt.where(AuditEvent.actor_subject == filters.actor)
    if filters.action is not None:
        stmt = stmt.where(AuditEvent.action == filters.action)
    if filters.at_from is not None:
        stmt = stmt.where(col(AuditEvent.at) >= filters.at_from)
    if filters.at_to is not None:
        stmt = stmt.where(col(AuditEvent.at) <= filters.at_to)
    starts = [s for s in (filters.after, page.after_serial()) if s is not None]
    if starts:
        stmt = stmt.where(col(AuditEvent.seq) > max(starts))
    stmt = stmt.order_by(col(AuditEvent.seq)).limit(page.limit + 1)
    rows = list((await session.execute(stmt)).scalars().all())
    if len(rows) <= page.limit:
        return rows, None
    kept = rows[: page.limit]
    return kept, page.serial_cursor(kept[-1].seq)


@dataclass(frozen=True)
class Verification:
    head_seq: int
    state: ChainCheck
    broken: ChainBreak | None


def _stored(row: Mapping[str, Any]) -> StoredEvent:
    return StoredEvent(content=_content(row), hash=row["hash"])


async def verify(
    session: AsyncSession, *, checkpoint: tuple[int, str] | None = None
) -> Verification:
    """R-AUDIT-1: recompute the whole chain with the keys, in batches, up to the head read
    first; a row past the head is a break; `checkpoint` (seq, hash), from a signed checkpoint
    already checked, must still be in the chain."""
    keyring = current_keyring()
    head = (
        await session.execute(select(AuditChainHead.last_seq, AuditChainHead.last_hash))
    ).first()
    head_seq, head_hash = (0, GENESIS_HASH) if head is None else (int(head[0]), str(head[1]))
    state = ChainCheck()
    at_checkpoint: str | None = None
    after = 0
    while True:
        # Plain rows, not ORM objects: a long chain is never held in the session.
        stmt = (
            select(AUDIT_TABLE)
            .where(AUDIT_TABLE.c.seq > after, AUDIT_TABLE.c.seq <= head_seq)
            .order_by(AUDIT_TABLE.c.seq)
            .limit(VERIFY_BATCH)
        )
        batch = list((await session.execute(stmt)).mappings().all())
        if not batch:
            break
        state, broken = verify_chain((_stored(e) for e in batch), keyring, state)
        if broken is not None:
            return Verification(head_seq, state, broken)
        if checkpoint is not None:
            at_checkpoint = next(
                (str(e["hash"]) for e in batch if e["seq"] == checkpoint[0]), at_checkpoint
            )
        after = int(batch[-1]["seq"])
    broken = check_head(state, head_seq, head_hash)
    if broken is None:
        first_past = (
            await session.execute(
                select(func.min(AUDIT_TABLE.c.seq)).where(AUDIT_TABLE.c.seq > head_seq)
            )
        ).scalar_one_or_none()
        if first_past is not None:
            broken = past_head(head_seq, int(first_past))
    if broken is None and checkpoint is not None:
        broken = check_checkpoint(state, checkpoint[0], checkpoint[1], at_checkpoint)
    return Verification(head_seq, state, broken)
