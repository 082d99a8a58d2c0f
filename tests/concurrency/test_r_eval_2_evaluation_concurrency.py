"""R-EVAL-2 under real concurrency: one evaluation per evaluator and dossier, whatever the
interleaving (UNIQUE (project, evaluator) decides); and the dossier's summary stays the
aggregate of its evaluations when several evaluators write at once (the project row's lock).

Each request runs in its own session and transaction (RELIABILITY.md §3), on SQLite (BEGIN
IMMEDIATE serialises writers) and on PostgreSQL (row lock, UNIQUE index).
"""

from __future__ import annotations

import asyncio
from typing import Any

from httpx import AsyncClient
from sqlalchemy import func
from sqlmodel import select

from app.auth.principal import Principal, Role
from app.evaluations.models import Evaluation
from app.programme.seed import GENERAL_CRITERIA, STRANDS
from app.projects.models import Project
from tests.concurrency.conftest import World, prefect_of


def full_body(score: int) -> dict[str, Any]:
    (strand,) = [s for s in STRANDS if s["code"] == "3c"]
    codes = [c["code"] for c in [*GENERAL_CRITERIA, *strand["criteria"]]]
    return {
        "conflict_of_interest": False,
        "scores": dict.fromkeys(codes, score),
        "recommendation": "fund",
    }


async def test_r_eval_2_two_concurrent_posts_by_one_evaluator_give_one_201_and_one_409(
    world: World, http: AsyncClient
) -> None:
    departement = "14"
    (project_id,) = await world.dossiers_in_review(departement, 1)
    prefect = prefect_of(departement)
    url = f"/api/v1/projects/{project_id}/evaluations"
    responses = await asyncio.gather(
        *(http.post(url, json=full_body(score), headers=world.headers(prefect)) for score in (2, 4))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409], [r.text for r in responses]
    (refused,) = [r for r in responses if r.status_code == 409]
    assert refused.json()["code"] == "R-EVAL-2"
    async with world.sessionmaker() as session, session.begin():
        count = (
            await session.execute(select(func.count()).where(Evaluation.project_id == project_id))
        ).scalar_one()
        project = await session.get_one(Project, project_id, populate_existing=True)
    assert count == 1
    assert project.evaluation_count == 1
    assert project.version == 1  # R-EVAL-4: the summary never bumps the dossier's version


async def test_r_eval_3_concurrent_evaluators_leave_an_exact_summary(
    world: World, http: AsyncClient
) -> None:
    departement = "15"
    (project_id,) = await world.dossiers_in_review(departement, 1)
    url = f"/api/v1/projects/{project_id}/evaluations"
    evaluators = [
        Principal(f"prefet-{departement}-agent-{i}", Role.PREFECT, departement=departement)
        for i in range(6)
    ]
    responses = await asyncio.gather(
        *(
            http.post(url, json=full_body(i % 6), headers=world.headers(who))
            for i, who in enumerate(evaluators)
        )
    )
    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]
    async with world.sessionmaker() as session, session.begin():
        project = await session.get_one(Project, project_id, populate_existing=True)
    # Totals 0.00, 1.00, …, 5.00: mean 2.50.
    assert (project.evaluation_count, project.mean_score_centi) == (6, 250)
    assert (project.advisory_count, project.advisory_mean_centi) == (0, None)
