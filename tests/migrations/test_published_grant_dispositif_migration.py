"""Migration 7c3d9e1f4a25 (issue 26, R-PROG-1): a published grant row names its programme's SCDL
`dispositifAide`; the rows already published take their programme's (each grant its own
programme's, two programmes here); the downgrade drops the column."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.migrations.rows import insert_row
from tests.migrations.test_migrations import _config
from tests.support import create_database, drop_database

REVISION = "7c3d9e1f4a25"
DISPOSITIFS = {"FITN7": "France Relance (FITN7 axe 3)", "NT": "Numérique des territoires"}


@pytest_asyncio.fixture(loop_scope="session")
async def url(tmp_path: Path) -> AsyncIterator[str]:
    url = await create_database(tmp_path, "published_dispositif")
    try:
        yield url
    finally:
        await drop_database(url)


def _seed(sync: sa.Connection) -> dict[uuid.UUID, str]:
    """One published grant per programme; returns grant id → its programme's code."""
    grants: dict[uuid.UUID, str] = {}
    candidate = uuid.uuid4()
    insert_row(
        sync, "candidate", id=candidate, siret="21130055300016", siren="211300553",
        verification="verified",
    )  # fmt: skip
    for code, dispositif in DISPOSITIFS.items():
        programme, envelope, project, grant = (uuid.uuid4() for _ in range(4))
        insert_row(
            sync, "programme", id=programme, code=code, version=1, status="published",
            dispositif_aide=dispositif,
        )  # fmt: skip
        insert_row(sync, "envelope", id=envelope, programme_id=programme, departement="13")
        insert_row(
            sync, "project", id=project, candidate_id=candidate, programme_id=programme,
            strand="socle", version=1,
        )  # fmt: skip
        insert_row(
            sync, "project_grant", id=grant, project_id=project, envelope_id=envelope,
            amount_cents=100, programme_version=1,
        )  # fmt: skip
        insert_row(
            sync, "published_grant", grant_id=grant, departement="13", strand="socle",
            programme_id=programme,
        )  # fmt: skip
        grants[grant] = code
    return grants


async def test_r_prog_1_published_rows_take_their_programmes_dispositif(url: str) -> None:
    cfg = _config(url)
    before = ScriptDirectory.from_config(cfg).get_revision(REVISION).down_revision
    assert isinstance(before, str)
    await asyncio.to_thread(command.upgrade, cfg, before)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            grants = await connection.run_sync(_seed)
        await asyncio.to_thread(command.upgrade, cfg, REVISION)
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    sa.text("SELECT grant_id, dispositif_aide FROM published_grant")
                )
            ).all()
        stored = {uuid.UUID(str(grant_id)): value for grant_id, value in rows}
        assert stored == {grant: DISPOSITIFS[code] for grant, code in grants.items()}
        await asyncio.to_thread(command.downgrade, cfg, before)
        async with engine.connect() as connection:
            columns = await connection.run_sync(
                lambda sync: {c["name"] for c in sa.inspect(sync).get_columns("published_grant")}
            )
        assert "dispositif_aide" not in columns
    finally:
        await engine.dispose()
