"""The programme, cached per process and revalidated by its version (issue 13).

A programme row changes only by DINUM's edits, each of which bumps its `version` (the ORM's
version counter). Every instance keeps the last programme it read, detached from any session
(read-only: callers read its terms and id), and serves it while the database still holds that
version: the check is one indexed one-column SELECT (`current_programme`), or rides on a query
the request makes anyway (the project read selects its programme's version beside it). So
several instances stay correct after an edit made through any of them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.core.rawsql import PooledRead, ReadConnection
from app.programme.errors import ProgrammeNotSeeded
from app.programme.models import Programme


@dataclass(frozen=True)
class ProgrammeKey:
    """A programme by id and code only (reads that need nothing else)."""

    id: uuid.UUID
    code: str = ""


_by_id: dict[uuid.UUID, Programme] = {}
# By database and code: one process may serve (or test) several databases.
_id_by_code: dict[tuple[str, str], uuid.UUID] = {}


def _key(session: AsyncSession, code: str) -> tuple[str, str]:
    return (str(session.get_bind().engine.url), code)


def clear() -> None:
    _by_id.clear()
    _id_by_code.clear()


def _remember(session: AsyncSession, programme: Programme) -> Programme:
    session.expunge(programme)  # shared between sessions: never attached to one
    _by_id[programme.id] = programme
    _id_by_code[_key(session, programme.code)] = programme.id
    return programme


async def programme_at(
    session: AsyncSession, programme_id: uuid.UUID, version: int | None
) -> Programme:
    """The programme `programme_id` at `version` (read beside another query): from the cache
    when it holds that version, else loaded (one statement) and cached."""
    hit = _by_id.get(programme_id)
    if hit is not None and version is not None and hit.version == version:
        return hit
    programme = (
        await session.execute(
            select(Programme)
            .where(Programme.id == programme_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return _remember(session, programme)


async def programme_at_on(
    connection: ReadConnection, programme_id: uuid.UUID, version: int | None
) -> Programme:
    """`programme_at` for a read on a connection (issue 28, no request session): from the cache
    when it holds that version; else loaded by a session of its own on that connection (one
    statement, the connection's transaction left as it was) and cached."""
    hit = _by_id.get(programme_id)
    if hit is not None and version is not None and hit.version == version:
        return hit
    # A read on the reads' own pool (PostgreSQL) has no SQLAlchemy connection to bind: its
    # session takes one of the engine's, once per programme version and process (the request
    # holds none of the engine's: the gate counts it among those it admitted).
    bind = connection.engine if isinstance(connection, PooledRead) else connection
    async with AsyncSession(bind=bind, expire_on_commit=False) as session:
        return await programme_at(session, programme_id, version)


async def programme_by_code(session: AsyncSession, code: str) -> Programme:
    """The programme in force by code: one cheap version check when cached, else one load."""
    known = _id_by_code.get(_key(session, code))
    if known is not None:
        version = (
            await session.execute(select(Programme.version).where(Programme.id == known))
        ).scalar_one_or_none()
        hit = _by_id.get(known)
        if version is not None and hit is not None and hit.version == version:
            return hit
    programme = (
        await session.execute(
            select(Programme)
            .where(Programme.code == code)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if programme is None:
        raise ProgrammeNotSeeded()
    return _remember(session, programme)


def programme_id_for(session: AsyncSession, code: str) -> uuid.UUID | None:
    """The id of a programme already read by this process (an id never changes)."""
    return _id_by_code.get(_key(session, code))


async def programme_id_on(connection: ReadConnection, code: str) -> uuid.UUID | None:
    """The id of the programme `code` for a read on a connection (issue 28, no session): from
    the cache, no statement; else one Core statement, remembered (an id never changes). None
    when the database holds no such programme."""
    key = (str(connection.engine.url), code)
    known = _id_by_code.get(key)
    if known is not None:
        return known
    stmt = select(Programme.id).where(Programme.code == code)
    found: uuid.UUID | None = (await connection.execute(stmt)).scalar_one_or_none()
    if found is not None:
        _id_by_code[key] = found
    return found


async def code_of(session: AsyncSession, programme_id: uuid.UUID) -> str:
    """A programme's code (it never changes): from the cache, else one statement."""
    hit = _by_id.get(programme_id)
    if hit is not None:
        return hit.code
    code = (
        await session.execute(select(Programme.code).where(Programme.id == programme_id))
    ).scalar_one()
    return str(code)
