"""Issue 28: the submission's own statements (its dossier's read, its UPDATE guarded by the
version with its history row) and its commit's (the audit chain's head locked, the event
appended with the head's move, the counters' upsert) run on asyncpg's connection on PostgreSQL
(app/core/rawsql.py) and through SQLAlchemy's execution elsewhere; either way R-FLOW-3's guard
holds, the write is the same, the chain verifies (R-AUDIT-1) and the counters are their
recomputation from the dossiers."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.core import rawsql
from app.core.errors import PreconditionFailed
from app.projects import submission
from app.projects.models import Project, ProjectTransition
from tests.api.stats.counting import assert_counters_recomputed
from tests.conftest import MARSEILLE_SIREN, Actors
from tests.factories import make_candidate, make_project
from tests.support import backend_url, file_required_documents


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


@pytest.fixture
async def draft(session: AsyncSession) -> Project:
    """A draft of Marseille's, which `actors.cand_a` may submit."""
    return await make_project(
        session, candidate=await make_candidate(session, siren=MARSEILLE_SIREN)
    )


async def test_r_flow_3_a_submission_changed_since_its_read_writes_nothing(
    session: AsyncSession, actors: Actors, execution: str, draft: Project
) -> None:
    project = draft
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
    session: AsyncSession, actors: Actors, execution: str, draft: Project
) -> None:
    project = draft
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


async def test_r_audit_1_a_submission_commits_its_event_and_its_counters(
    session: AsyncSession, client: AsyncClient, headers: Any, actors: Actors, execution: str
) -> None:
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    project = await make_project(session, candidate=marseille)
    mine = headers(actors.cand_a)
    await file_required_documents(client, mine, project.id, step="submission")
    before = await audit.verify(session)
    submitted = await client.post(
        f"/api/v1/projects/{project.id}/submit", headers={**mine, "If-Match": '"v1"'}
    )
    assert submitted.status_code == 200, submitted.text
    checked = await audit.verify(session)
    assert checked.broken is None and checked.head_seq > before.head_seq
    appended = await session.scalar(
        select(AuditEvent.action).where(
            AuditEvent.object_id == str(project.id), AuditEvent.seq == checked.head_seq
        )
    )
    assert appended == "status_changed"  # the submission's event, at the head
    await session.run_sync(lambda s: assert_counters_recomputed(s.connection()))
