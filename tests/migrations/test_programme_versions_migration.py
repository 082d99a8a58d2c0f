"""Migration 8c4d2a6f1e35 (issue 26, R-PROG-2): an existing published programme gets the
document of the version it is at in `programme_version`; a draft gets none; the downgrade
drops the table."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest_asyncio
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.programme.schemas import ProgrammeDocument
from app.programme.seed import STRANDS
from tests.migrations.rows import insert_row
from tests.migrations.test_migrations import _config
from tests.support import create_database, drop_database

REVISION = "8c4d2a6f1e35"


@pytest_asyncio.fixture(loop_scope="session")
async def url(tmp_path: Path) -> AsyncIterator[str]:
    url = await create_database(tmp_path, "programme_versions")
    try:
        yield url
    finally:
        await drop_database(url)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def test_r_prog_2_upgrade_keeps_the_version_in_force_of_each_published_programme(
    url: str,
) -> None:
    cfg = _config(url)
    before = ScriptDirectory.from_config(cfg).get_revision(REVISION).down_revision
    assert isinstance(before, str)
    await asyncio.to_thread(command.upgrade, cfg, before)
    engine = create_async_engine(url, poolclass=NullPool)
    published, drafted = uuid.uuid4(), uuid.uuid4()
    try:
        async with engine.begin() as connection:
            await connection.run_sync(
                lambda sync: insert_row(
                    sync,
                    "programme",
                    id=published,
                    code="FITN7",
                    title="FITN7 axe 3",
                    status="published",
                    version=4,
                    window_opens_on=date(2021, 1, 25),
                    window_closes_on=None,
                    funding_cap_rate_bps=10_000,
                    strands=STRANDS,
                    eligible_kinds=["commune"],
                )
            )
            await connection.run_sync(
                lambda sync: insert_row(
                    sync, "programme", id=drafted, code="BROUILLON", status="draft", version=2
                )
            )
        await asyncio.to_thread(command.upgrade, cfg, REVISION)
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    sa.text(
                        "SELECT programme_id, version, document, created_by FROM programme_version"
                    )
                )
            ).all()
        [row] = rows
        assert row.version == 4 and row.created_by == "migration"
        assert str(row.programme_id).replace("-", "") == published.hex
        document = _json(row.document)
        assert list(document) == list(ProgrammeDocument.model_fields)  # the whole document
        assert (document["code"], document["title"]) == ("FITN7", "FITN7 axe 3")
        assert (document["window_opens_on"], document["window_closes_on"]) == ("2021-01-25", None)
        assert document["funding_cap_rate_bps"] == 10_000
        assert document["strands"] == STRANDS and document["eligible_kinds"] == ["commune"]
        await asyncio.to_thread(command.downgrade, cfg, before)
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
        assert "programme_version" not in tables
    finally:
        await engine.dispose()
