"""A committee as its writes see it: its agenda in R-COM-4 order, each dossier with its
candidate, its eligibility report and its score (ORM objects, in the write's session). The
writes answer with it and the minutes read it; `GET /committees/{id}` reads the same on the
lean read path (`app.committees.committee_reads`, issue 28)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlmodel import col, select

from app.auth.principal import Principal
from app.candidates.models import Candidate
from app.committees import access
from app.committees.models import AgendaItem, Committee
from app.committees.rules import AgendaRank, agenda_sort_key, is_small_population
from app.programme.models import Programme
from app.projects import (
    assessment as projects_assessment,
    scores as projects_scores,
)
from app.projects.display import ScoreSummary
from app.projects.eligibility_rules import EligibilityReport
from app.projects.models import Project


@dataclass(frozen=True)
class AgendaRow:
    item: AgendaItem
    project: Project
    candidate: Candidate
    report: EligibilityReport
    score: ScoreSummary
    small_population: bool


@dataclass(frozen=True)
class CommitteeView:
    committee: Committee
    agenda: list[AgendaRow]
    programme: str  # the committee's programme's code (R-PROG-2)


async def _agenda(session: AsyncSession, committee: Committee) -> tuple[list[AgendaRow], Programme]:
    """The agenda in R-COM-4 order: mean score descending (unscored last), small candidates
    first, then the earliest submission."""
    stmt = (
        select(AgendaItem, Project, Candidate)
        .join(Project, col(Project.id) == col(AgendaItem.project_id))
        .join(Candidate, col(Candidate.id) == col(Project.candidate_id))
        .where(col(AgendaItem.committee_id) == committee.id)
        .options(
            selectinload(Project.expense_lines),  # type: ignore[arg-type]
            selectinload(Project.funding_lines),  # type: ignore[arg-type]
        )
        .execution_options(populate_existing=True)
    )
    rows = (await session.execute(stmt)).all()
    programme = await session.get_one(Programme, committee.programme_id)
    # R-EVAL-3: the prefecture's mean only (ANCT's advisory totals are kept apart).
    scores = await projects_scores.score_summaries(session, [row[1].id for row in rows])
    agenda = []
    for item, project, candidate in rows:
        agenda.append(
            AgendaRow(
                item=item,
                project=project,
                candidate=candidate,
                report=await projects_assessment.assess_project(session, project),
                score=scores.get(project.id, ScoreSummary()),
                # R-COM-4: candidates under the programme's population threshold are flagged.
                small_population=is_small_population(
                    candidate.population, programme.small_population_threshold
                ),
            )
        )
    ordered = sorted(
        agenda,
        key=lambda r: agenda_sort_key(
            AgendaRank(
                mean_score_centi=r.score.mean_score_centi,
                small_population=r.small_population,
                submitted_at=r.project.submitted_at,
                tie_breaker=str(r.project.id),
            )
        ),
    )
    return ordered, programme


async def committee_view(session: AsyncSession, committee: Committee) -> CommitteeView:
    """The committee with its agenda, as every use case answers."""
    agenda, programme = await _agenda(session, committee)
    return CommitteeView(committee, agenda, programme.code)


async def read_committee(
    session: AsyncSession, principal: Principal, *, committee_id: uuid.UUID
) -> CommitteeView:
    """A committee in scope (404 otherwise, R-ACL-1) with its agenda in R-COM-4 order."""
    committee = await access.get_committee(session, principal, committee_id=committee_id)
    return await committee_view(session, committee)
