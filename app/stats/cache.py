"""Issue 13: the dashboards' figures, memoised per process by what they depend on.

A dashboard's figures are a function of (its query, the reader's scope, the programme, today
(R-COM-1), the database's state). The state is named by the audit chain's head (`last_seq`,
`last_hash`): every business write that changes a figure (dossiers, grants, payments,
envelopes, committees, candidates, the programme) appends to the chain in its own
transaction (R-AUDIT-1), so the head moves on every such commit, whichever instance made it.
The head is read in the dashboard's own snapshot before the figures: figures cached under a
head are exactly the figures of that head. Several instances stay correct without talking to
each other; a process only ever answers from the state its snapshot shows.

Writes made below the service (a restore, a manual SQL fix, a data generator) do not move the
head: `clear()` after them, or restart the instances.

Bounded: an LRU of `MAX_ENTRIES` entries (a few combinations of period and scope are read).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audit.models import AuditChainHead

MAX_ENTRIES = 32

_entries: OrderedDict[Hashable, Any] = OrderedDict()


async def database_version(session: AsyncSession) -> tuple[int, str] | None:
    """The audit chain head (one indexed single-row read); None on a database without it."""
    stmt = select(col(AuditChainHead.last_seq), col(AuditChainHead.last_hash)).where(
        col(AuditChainHead.id) == 1
    )
    row = (await session.execute(stmt)).first()
    return None if row is None else (int(row[0]), str(row[1]))


def get(key: Hashable) -> Any | None:
    if key not in _entries:
        return None
    _entries.move_to_end(key)
    return _entries[key]


def put(key: Hashable, value: Any) -> None:
    _entries[key] = value
    _entries.move_to_end(key)
    while len(_entries) > MAX_ENTRIES:
        _entries.popitem(last=False)


def clear() -> None:
    _entries.clear()


def size() -> int:
    return len(_entries)
