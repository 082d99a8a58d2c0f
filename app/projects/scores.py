"""A dossier's evaluation summary (R-EVAL-3), stored on its row by the evaluations service."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select as sa_select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from app.projects.display import ScoreSummary
from app.projects.models import Project


def score_summary(project: Project) -> ScoreSummary:
    return ScoreSummary(
        evaluation_count=project.evaluation_count,
        mean_score_centi=project.mean_score_centi,
        advisory_count=project.advisory_count,
        advisory_mean_centi=project.advisory_mean_centi,
    )


async def record_scores(
    session: AsyncSession, *, project_id: uuid.UUID, summary: ScoreSummary
) -> None:
    """Store a dossier's evaluation summary (R-EVAL-3), called by the evaluations service in
    its transaction, after it locked the project row and recomputed the summary.

    A Core UPDATE: the project's version and updated_at do not move (R-EVAL-4: nothing a
    candidate reads changes when an evaluation is written), nor does the candidate's ETag.
    """
    values = {
        "evaluation_count": summary.evaluation_count,
        "mean_score_centi": summary.mean_score_centi,
        "advisory_count": summary.advisory_count,
        "advisory_mean_centi": summary.advisory_mean_centi,
    }
    table = Project.__table__  # type: ignore[attr-defined]
    await session.execute(update(table).where(table.c.id == project_id).values(**values))
    loaded = session.identity_map.get(session.identity_key(Project, project_id))
    if loaded is not None:  # keep a project already loaded in this session in step
        for name, value in values.items():
            set_committed_value(loaded, name, value)


async def score_summaries(
    session: AsyncSession, project_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ScoreSummary]:
    """The evaluation summaries of these dossiers (no scope check: callers are services that
    already resolved the dossiers in the principal's scope); missing ids are left out."""
    if not project_ids:
        return {}
    rows = await session.execute(
        sa_select(
            col(Project.id),
            col(Project.evaluation_count),
            col(Project.mean_score_centi),
            col(Project.advisory_count),
            col(Project.advisory_mean_centi),
        ).where(col(Project.id).in_(list(project_ids)))
    )
    return {
        row[0]: ScoreSummary(
            evaluation_count=row[1],
            mean_score_centi=row[2],
            advisory_count=row[3],
            advisory_mean_centi=row[4],
        )
        for row in rows.all()
    }
