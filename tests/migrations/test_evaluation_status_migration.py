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
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import select

from app.programme.models import ScoringGrid
from app.programme.service import seed_programme
from app.projects.models import Project
from tests.conftest import MARSEILLE_SIREN
from tests.factories import make_candidate, make_project
from tests.migrations.test_migrations import _config
from tests.support import create_database, drop_database

REVISION = "3f6b2c8e1d47"
EVALUATION = sa.table(  # the table as it was before REVISION (no status)
    "evaluation",
    *(
        sa.column(name, kind)
        for name, kind in (
            ("id", sa.Uuid()),
            ("project_id", sa.Uuid()),
            ("evaluator_subject", sa.String()),
            ("evaluator_role", sa.String()),
            ("advisory", sa.Boolean()),
            ("recused", sa.Boolean()),
            ("grid_id", sa.Uuid()),
            ("grid_version", sa.Integer()),
            ("scores", sa.JSON()),
            ("weighted_total_centi", sa.Integer()),
            ("recommendation", sa.String()),
            ("version", sa.Integer()),
            ("created_at", sa.DateTime(timezone=True)),
            ("updated_at", sa.DateTime(timezone=True)),
        )
    ),
)


@pytest_asyncio.fixture(loop_scope="session")
async def url(tmp_path: Path) -> AsyncIterator[str]:
    url = await create_database(tmp_path, "evaluation_status")
    try:
        yield url
    finally:
        await drop_database(url)


async def test_r_eval_5_upgrade_keeps_evaluations_active_and_recomputes_the_means(
    url: str,
) -> None:
    cfg = _config(url)
    before = ScriptDirectory.from_config(cfg).get_revision(REVISION).down_revision
    assert isinstance(before, str)
    await asyncio.to_thread(command.upgrade, cfg, before)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            await seed_programme(session)
            candidate = await make_candidate(session, siren=MARSEILLE_SIREN)
            project = await make_project(
                session, candidate=candidate, strand="3b", status="in_review"
            )
            grid = (
                (await session.execute(select(ScoringGrid).where(ScoringGrid.strand == "3b")))
                .scalars()
                .one()
            )
            codes = [c["code"] for c in grid.criteria]
            now = datetime.now(UTC)
            # 1.125 (shown 1.13) and 1.275 (1.28): the stored mean of rounded totals is 1.21.
            for subject, twos, centi in (
                ("prefet-13", {"equipe_organisation"}, 113),
                ("prefet-13-bis", {"equipe_organisation", "niveau_portage"}, 128),
            ):
                await session.execute(
                    EVALUATION.insert().values(
                        id=uuid.uuid4(),
                        project_id=project.id,
                        evaluator_subject=subject,
                        evaluator_role="prefect",
                        advisory=False,
                        recused=False,
                        grid_id=grid.id,
                        grid_version=grid.version,
                        scores={c: 2 if c in twos else 1 for c in codes},
                        weighted_total_centi=centi,
                        recommendation="fund",
                        version=1,
                        created_at=now,
                        updated_at=now,
                    )
                )
            await session.execute(
                sa.update(Project)
                .where(Project.id == project.id)  # type: ignore[arg-type]
                .values(evaluation_count=2, mean_score_centi=121)
            )
        await asyncio.to_thread(command.upgrade, cfg, REVISION)
        async with engine.connect() as connection:
            mean = await connection.scalar(
                sa.select(sa.column("mean_score_centi", sa.Integer()))
                .select_from(sa.table("project", sa.column("id", sa.Uuid())))
                .where(sa.column("id", sa.Uuid()) == project.id)
            )
            statuses = (await connection.execute(sa.text("SELECT status FROM evaluation"))).all()
        assert mean == 120
        assert [s for (s,) in statuses] == ["active", "active"]
    finally:
        await engine.dispose()
