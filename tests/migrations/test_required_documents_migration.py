"""Migration c922c1a4c3bd (issue 24, R-DOC-1): a programme built before it gets the documents
FITN7 axe 3 requires, equal to the seed's, and the downgrade drops them again."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.programme.seed import REQUIRED_DOCUMENTS
from tests.migrations.rows import insert_row
from tests.migrations.test_migrations import _config
from tests.support import create_database, drop_database

REVISION = "c922c1a4c3bd"


@pytest_asyncio.fixture(loop_scope="session")
async def url(tmp_path: Path) -> AsyncIterator[str]:
    url = await create_database(tmp_path, "required_documents")
    try:
        yield url
    finally:
        await drop_database(url)


async def test_r_doc_1_upgrade_gives_an_existing_programme_its_required_documents(
    url: str,
) -> None:
    cfg = _config(url)
    before = ScriptDirectory.from_config(cfg).get_revision(REVISION).down_revision
    assert isinstance(before, str)
    await asyncio.to_thread(command.upgrade, cfg, before)
    engine = create_async_engine(url, poolclass=NullPool)
    programme_id = uuid.uuid4()
    try:
        async with engine.begin() as connection:
            await connection.run_sync(
                lambda sync: insert_row(sync, "programme", id=programme_id, code="FITN7", version=3)
            )
        await asyncio.to_thread(command.upgrade, cfg, REVISION)
        async with engine.connect() as connection:
            stored = await connection.scalar(
                sa.text("SELECT required_documents FROM programme WHERE code = 'FITN7'")
            )
            version = await connection.scalar(sa.text("SELECT version FROM programme"))
        documents = json.loads(stored) if isinstance(stored, str) else stored
        assert documents == REQUIRED_DOCUMENTS  # the seed's, as of this revision
        assert version == 3  # the data carried over, not a new version
        await asyncio.to_thread(command.downgrade, cfg, before)
        async with engine.connect() as connection:
            columns = await connection.run_sync(
                lambda sync: [c["name"] for c in sa.inspect(sync).get_columns("programme")]
            )
        assert "required_documents" not in columns
    finally:
        await engine.dispose()
