"""Migration 3f6b2c8e1d47 (issue 22, R-EVAL-5): existing evaluations stay `active`, and each
dossier's means are recomputed over the unrounded totals, rounded once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest_asyncio
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.programme.rules import grid_snapshot
from app.programme.seed import PROGRAMME_DEFAULTS
from tests.migrations.rows import insert_row
from tests.migrations.test_migrations import _config
from tests.support import create_database, drop_database

REVISION = "3f6b2c8e1d47"


@pytest_asyncio.fixture(loop_scope="session")
async def url(tmp_path: Path) -> AsyncIterator[str]:
    url = await create_database(tmp_path, "evaluation_status")
    try:
        yield url
    finally:
        await drop_database(url)


def _seed(connection: Connection, project_id: uuid.UUID) -> None:
    """A 3b dossier scored by two prefects, as the tables were before REVISION: 1.125 (shown
    1.13) and 1.275 (1.28), whose stored mean of rounded totals is 1.21."""
    programme_id, candidate_id, grid_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    strand = next(s for s in PROGRAMME_DEFAULTS["strands"] if s["code"] == "3b")
    criteria = grid_snapshot(PROGRAMME_DEFAULTS["general_criteria"], strand["criteria"])
    insert_row(connection, "programme", id=programme_id, code="FITN7", version=1)
    insert_row(
        connection, "scoring_grid", id=grid_id, programme_id=programme_id, strand="3b",
        version=1, criteria=criteria,
    )  # fmt: skip
    insert_row(
        connection, "candidate", id=candidate_id, siret="21130055300016", siren="211300553",
        verification="verified",
    )  # fmt: skip
    insert_row(
        connection, "project", id=project_id, candidate_id=candidate_id,
        programme_id=programme_id, strand="3b", status="in_review", version=1,
        evaluation_count=2, mean_score_centi=121,
    )  # fmt: skip
    codes = [c["code"] for c in criteria]
    now = datetime.now(UTC)
    for subject, twos, centi in (
        ("prefet-13", {"equipe_organisation"}, 113),
        ("prefet-13-bis", {"equipe_organisation", "niveau_portage"}, 128),
    ):
        insert_row(
            connection, "evaluation", id=uuid.uuid4(), project_id=project_id,
            evaluator_subject=subject, evaluator_role="prefect", advisory=False, recused=False,
            grid_id=grid_id, grid_version=1, scores={c: 2 if c in twos else 1 for c in codes},
            weighted_total_centi=centi, recommendation="fund", version=1, created_at=now,
            updated_at=now,
        )  # fmt: skip


async def test_r_eval_5_upgrade_keeps_evaluations_active_and_recomputes_the_means(
    url: str,
) -> None:
    cfg = _config(url)
    before = ScriptDirectory.from_config(cfg).get_revision(REVISION).down_revision
    assert isinstance(before, str)
    await asyncio.to_thread(command.upgrade, cfg, before)
    engine = create_async_engine(url, poolclass=NullPool)
    project_id = uuid.uuid4()
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_seed, project_id)
        await asyncio.to_thread(command.upgrade, cfg, REVISION)
        async with engine.connect() as connection:
            mean = await connection.scalar(
                sa.select(sa.column("mean_score_centi", sa.Integer()))
                .select_from(sa.table("project", sa.column("id", sa.Uuid())))
                .where(sa.column("id", sa.Uuid()) == project_id)
            )
            statuses = (await connection.execute(sa.text("SELECT status FROM evaluation"))).all()
        assert mean == 120
        assert [s for (s,) in statuses] == ["active", "active"]
    finally:
        await engine.dispose()
