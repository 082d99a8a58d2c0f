"""Issue 28: the submission's own statements (its dossier's read, its UPDATE guarded by the
version with its history row) run on asyncpg's connection on PostgreSQL (app/core/rawsql.py)
and through SQLAlchemy's execution elsewhere; either way R-FLOW-3's guard holds and the write
is the same."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import rawsql
from app.core.errors import PreconditionFailed
from app.projects import submission
from app.projects.models import Project, ProjectTransition
from tests.conftest import MARSEILLE_SIREN, Actors
from tests.factories import make_candidate, make_project
from tests.support import backend_url


@pytest.fixture(params=["asyncpg", "sqlalchemy"])
def execution(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How `rawsql` runs the statements: asyncpg's own connection (PostgreSQL only), or
    SQLAlchemy's execution (SQLite's, always)."""
    if request.param == "asyncpg" and backend_url() is None:
        pytest.skip("asyncpg's connection")
    if request.param == "sqlalchemy":
        monkeypatch.setattr(rawsql, "_native", lambda _connection: False)
    return str(request.param)


async def _history(session: AsyncSession, project: Project) -> list[tuple[str, str]]:
    found = await session.execute(
        select(ProjectTransition.action, ProjectTransition.to_status).where(
            ProjectTransition.project_id == project.id
        )
    )
    return [tuple(row) for row in found.all()]  # type: ignore[misc]


async def test_r_flow_3_a_submission_changed_since_its_read_writes_nothing(
    session: AsyncSession, actors: Actors, execution: str
) -> None:
    project = await make_project(
        session, candidate=await make_candidate(session, siren=MARSEILLE_SIREN)
    )
    read, _ = await submission._read(session, actors.cand_a, project.id)
    # Another request changes the dossier between this one's read and its UPDATE.
    await session.execute(
        update(Project).where(Project.id == project.id).values(version=Project.version + 1)
    )
    with pytest.raises(PreconditionFailed) as refused:
        await submission._write(session, actors.cand_a, read)
    assert refused.value.code == "R-FLOW-3"
    assert await _history(session, project) == []
    status = await session.scalar(select(Project.status).where(Project.id == project.id))
    assert status == "draft"


async def test_r_flow_1_a_submission_writes_its_status_and_its_history(
    session: AsyncSession, actors: Actors, execution: str
) -> None:
    project = await make_project(
        session, candidate=await make_candidate(session, siren=MARSEILLE_SIREN)
    )
    read, row = await submission._read(session, actors.cand_a, project.id)
    assert row.candidate_kind == "commune" and read.version == project.version
    await submission._write(session, actors.cand_a, read)
    written = (
        await session.execute(
            select(Project.status, Project.version, func.count(ProjectTransition.id))
            .outerjoin(ProjectTransition, ProjectTransition.project_id == Project.id)
            .where(Project.id == project.id)
            .group_by(Project.status, Project.version)
        )
    ).one()
    assert tuple(written) == ("submitted", project.version + 1, 1)
    assert await _history(session, project) == [("submit", "submitted")]
