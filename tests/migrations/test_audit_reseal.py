"""R-AUDIT-1 (issue 23): the migration that keys the audit chain re-seals the events already
stored, after checking them under the old unkeyed rule, and refuses a chain that does not hold
(changing nothing); its downgrade gives back the old hashes."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from app.audit import service as audit_service
from app.audit.rules import GENESIS_HASH, canonical_json
from app.core.config import get_settings
from app.core.types import UTCDateTime
from tests.migrations.test_migrations import _config, _state
from tests.support import create_database, drop_database

BEFORE = "d206b542dfb0"  # the last revision of the unkeyed chain
EVENTS = sa.table(
    "audit_event",
    *(
        sa.column(name, type_)
        for name, type_ in [
            ("seq", sa.BigInteger()),
            ("id", sa.Uuid()),
            ("at", UTCDateTime()),
            ("actor_subject", sa.String()),
            ("actor_role", sa.String()),
            ("actor_scope", sa.String()),
            ("object_type", sa.String()),
            ("object_id", sa.String()),
            ("departement", sa.String()),
            ("action", sa.String()),
            ("before", sa.JSON()),
            ("after", sa.JSON()),
            ("prev_hash", sa.String()),
            ("hash", sa.String()),
        ]
    ),
)


@pytest_asyncio.fixture(loop_scope="session")
async def url(tmp_path: Path) -> AsyncIterator[str]:
    created = await create_database(tmp_path, "reseal")
    try:
        yield created
    finally:
        await drop_database(created)


def _legacy_hash(row: dict[str, Any]) -> str:
    """The unkeyed rule before issue 23: SHA-256 of the canonical JSON, without `id`."""
    document = {
        "seq": row["seq"],
        "at": row["at"].astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": {"subject": row["actor_subject"], "role": row["actor_role"], "scope": None},
        "object": {"type": "envelope", "id": row["object_id"], "departement": "13"},
        "action": row["action"],
        "before": row["before"],
        "after": row["after"],
        "prev_hash": row["prev_hash"],
    }
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


async def _legacy_chain(url: str, *, tamper: bool = False) -> list[str]:
    """Three events of the unkeyed chain and its head; `tamper` edits the second afterwards."""
    rows, prev = [], GENESIS_HASH
    for seq in (1, 2, 3):
        row = {
            "seq": seq,
            "id": uuid.uuid4(),
            "at": datetime(2021, 3, 1, 9, tzinfo=UTC) + timedelta(seconds=seq),
            "actor_subject": "agent-dinum",
            "actor_role": "dinum",
            "actor_scope": None,
            "object_type": "envelope",
            "object_id": "e13",
            "departement": "13",
            "action": "allocation",
            "before": {"allocated_cents": 0},
            "after": {"allocated_cents": seq * 100},
            "prev_hash": prev,
        }
        row["hash"] = prev = _legacy_hash(row)
        rows.append(row)
    if tamper:
        rows[1]["after"] = {"allocated_cents": 999_999_999}
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.begin() as connection:
        await connection.execute(sa.insert(EVENTS), rows)
        await connection.execute(
            sa.text("UPDATE audit_chain_head SET last_seq = 3, last_hash = :h"), {"h": prev}
        )
    await engine.dispose()
    return [r["hash"] for r in rows]


async def _stored_hashes(url: str) -> list[str]:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as connection:
        found = await connection.execute(sa.text("SELECT hash FROM audit_event ORDER BY seq"))
        hashes = [str(h) for h in found.scalars()]
    await engine.dispose()
    return hashes


async def test_r_audit_1_the_migration_reseals_a_sound_chain_and_downgrade_restores_it(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _config(url)
    await asyncio.to_thread(command.upgrade, cfg, BEFORE)
    legacy = await _legacy_chain(url)
    await asyncio.to_thread(command.upgrade, cfg, "head")
    # The service, with the keys the migration ran with, verifies the re-sealed chain.
    monkeypatch.setattr(audit_service, "_keyring", audit_service.keyring_of(get_settings()))
    engine = create_async_engine(url, poolclass=NullPool)
    async with AsyncSession(engine) as session:
        result = await audit_service.verify(session)
        key_ids = (await session.execute(sa.text("SELECT key_id FROM audit_event"))).scalars()
        assert set(key_ids) == {get_settings().current_audit_key_id}
    await engine.dispose()
    assert result.broken is None, result.broken
    assert (result.head_seq, result.state.verified_up_to) == (3, 3)
    assert set(await _stored_hashes(url)).isdisjoint(legacy)

    await asyncio.to_thread(command.downgrade, cfg, BEFORE)
    assert await _stored_hashes(url) == legacy


async def test_r_audit_1_the_migration_refuses_a_tampered_chain_and_changes_nothing(
    url: str,
) -> None:
    cfg = _config(url)
    await asyncio.to_thread(command.upgrade, cfg, BEFORE)
    legacy = await _legacy_chain(url, tamper=True)
    with pytest.raises(RuntimeError, match="audit chain broken at seq 2"):
        await asyncio.to_thread(command.upgrade, cfg, "head")
    revisions, tables = await _state(url)
    assert revisions == {BEFORE}
    assert "audit_checkpoint" not in tables
    assert await _stored_hashes(url) == legacy
