"""Migration 5e1a7c0d2b94 (issue 26, R-PROG-1): a programme built before it is published, keeps
its version and gets, as data, what the code used to decide for FITN7 axe 3 (eligible kinds,
categories, forfaits on 3a, ANCT on 3b); a dossier's strand survives; the downgrade drops them."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.programme.seed import CATEGORIES, ELIGIBLE, STRANDS
from tests.migrations.rows import insert_row
from tests.migrations.test_migrations import _config
from tests.support import create_database, drop_database

REVISION = "5e1a7c0d2b94"


@pytest_asyncio.fixture(loop_scope="session")
async def url(tmp_path: Path) -> AsyncIterator[str]:
    url = await create_database(tmp_path, "programmes_as_data")
    try:
        yield url
    finally:
        await drop_database(url)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def test_r_prog_1_upgrade_makes_an_existing_programme_data(url: str) -> None:
    cfg = _config(url)
    before = ScriptDirectory.from_config(cfg).get_revision(REVISION).down_revision
    assert isinstance(before, str)
    await asyncio.to_thread(command.upgrade, cfg, before)
    engine = create_async_engine(url, poolclass=NullPool)
    programme_id = uuid.uuid4()
    old_strands = [
        {"code": s["code"], "title": s["title"], "criteria": s["criteria"]} for s in STRANDS
    ]
    try:
        async with engine.begin() as connection:
            await connection.run_sync(
                lambda sync: insert_row(
                    sync, "programme", id=programme_id, code="FITN7", version=4, strands=old_strands
                )
            )
        await asyncio.to_thread(command.upgrade, cfg, REVISION)
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.text(
                        "SELECT status, version, strands, eligible_kinds, categories, "
                        "dispositif_aide FROM programme"
                    )
                )
            ).one()
        assert row.status == "published"
        assert row.version == 4  # carried over, not a new version
        strands = {s["code"]: s for s in _json(row.strands)}
        assert [s["code"] for s in STRANDS] == list(strands)
        for seeded in STRANDS:  # the seed's rules, as of this revision
            assert strands[seeded["code"]] == seeded
        assert _json(row.eligible_kinds) == ELIGIBLE
        assert _json(row.categories) == CATEGORIES
        assert "FITN7" in row.dispositif_aide
        await asyncio.to_thread(command.downgrade, cfg, before)
        async with engine.connect() as connection:
            columns = await connection.run_sync(
                lambda sync: [c["name"] for c in sa.inspect(sync).get_columns("programme")]
            )
        assert not {"status", "categories", "eligible_kinds", "dispositif_aide"} & set(columns)
    finally:
        await engine.dispose()
