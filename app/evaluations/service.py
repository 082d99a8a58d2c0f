"""Use cases of evaluations (R-EVAL-1..5). Depends on projects and programme, never on
committees: a committee's close moves its dossiers out of in_review, which ends evaluation."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import ColumnElement, Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.audit import service as audit
from app.auth.principal import Principal
from app.core.concurrency import check_if_match, flush_versioned
from app.core.pagination import PageParams, keyset_page, split_page
from app.core.rules import RuleFailure, raise_failures
from app.core.types import utcnow
from app.evaluations.errors import (
    EvaluationConflict,
    EvaluationForbidden,
    EvaluationNotFound,
    GridMissing,
    InvalidEvaluation,
)
from app.evaluations.models import Evaluation
from app.evaluations.rules import (
    EvaluationStatus,
    EvaluatorKind,
    edit_strand_failure,
    evaluate_refusal,
    evaluation_failures,
    evaluator_kind,
    exact_total,
    grid_criteria,
    mean_centi,
    reader_failure,
    recusal_final_failure,
    second_evaluation_failure,
    status_failure,
    to_centi,
    void_failure,
    weighted_total,
)
from app.evaluations.schemas import EvaluationCreate, EvaluationUpdate
from app.programme import service as programme_service
from app.programme.models import ScoringGrid
from app.projects import (
    actions as projects_actions,
    guards as projects_guards,
    hooks as projects_hooks,
    reads as projects_reads,
    repository as projects_repository,
    scores as projects_scores,
)
from app.projects.display import ScoreSummary
from app.projects.errors import ProjectNotFound
from app.projects.lifecycle_rules import ProjectAction
from app.projects.models import Project

INVALID_DETAIL = "L'évaluation est refusée : voir chaque règle non respectée dans `errors`."


async def _project_for_update(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID
) -> Project:
    """The dossier in scope (R-ACL-1: 404 outside), its row locked until the transaction ends:
    evaluations of one dossier are written one at a time, so its summary is exact."""
    project = await projects_repository.get_visible_project(
        session, principal, project_id, for_update=True
    )
    if project is None:
        raise ProjectNotFound()
    return project


async def _conflict(
    session: AsyncSession, principal: Principal, project: Project, failure: RuleFailure
) -> EvaluationConflict:
    """The 409 of an R-EVAL-2 refusal, listing what the caller may do now (issue 12)."""
    actions = await projects_actions.actions_now(session, principal, project)
    return EvaluationConflict(
        failure.message,
        code=failure.code,
        status_current=project.status,
        allowed_actions=[a.value for a in actions],
    )


async def _check_status(session: AsyncSession, principal: Principal, project: Project) -> None:
    """R-EVAL-2: a dossier is evaluated while submitted or in review; once a committee decided
    it (its close moves it out of in_review), evaluations are final."""
    failure = status_failure(project.status)
    if failure is not None:
        raise await _conflict(session, principal, project, failure)


def evaluated_by(subject: Any, project_id: Any = Project.id) -> ColumnElement[bool]:
    """Whether `subject` has evaluated the dossier (R-EVAL-2: once per evaluator; R-EVAL-5:
    a void evaluation does not count); correlated to `Project.id` unless a dossier's id is
    given."""
    return (
        select(Evaluation.id)
        .where(
            Evaluation.project_id == project_id,
            Evaluation.evaluator_subject == subject,
            Evaluation.status == EvaluationStatus.ACTIVE.value,
        )
        .exists()
    )


EVALUATED = "evaluated_by_caller"


@projects_guards.guard(ProjectAction.EVALUATE, facts={EVALUATED: evaluated_by})
def may_evaluate(principal: Principal, dossier: projects_guards.Dossier) -> bool:
    """`evaluate` in `allowed_actions`: create_evaluation's own rules (R-EVAL-3, R-EVAL-2) on
    the facts selected with the dossier (issue 12)."""
    return (
        evaluate_refusal(
            role=principal.role.value,
            strand=dossier.strand,
            status=dossier.status.value,
            already_evaluated=bool(dossier.facts[EVALUATED]),
            advisors=dossier.advisors,
        )
        is None
    )


def _score(
    recused: bool,
    scores: Mapping[str, int] | None,
    recommendation: str | None,
    grid: ScoringGrid,
) -> int | None:
    """Check the evaluation against its grid (422 listing every failure); its total in
    hundredths of a point, None when recused (R-EVAL-1, R-EVAL-2)."""
    criteria = grid_criteria(grid.criteria)
    raise_failures(
        evaluation_failures(
            recused=recused, scores=scores, recommendation=recommendation, grid=criteria
        ),
        error=InvalidEvaluation,
        detail=INVALID_DETAIL,
    )
    if recused or scores is None:
        return None
    return to_centi(weighted_total(scores, criteria))


def _in_grid_order(scores: Mapping[str, int] | None, grid: ScoringGrid) -> dict[str, int]:
    """The scores keyed in the grid's order (stored so, read back so)."""
    given = scores or {}
    return {c.code: given[c.code] for c in grid_criteria(grid.criteria) if c.code in given}


async def create_evaluation(
    session: AsyncSession, principal: Principal, *, project_id: uuid.UUID, data: EvaluationCreate
) -> Evaluation:
    """An evaluator evaluates a dossier in its scope, once (R-EVAL-2).

    Raises ProjectNotFound (404), EvaluationForbidden (403 R-EVAL-3: ANCT outside its strands),
    EvaluationConflict (409: status, or a second evaluation), InvalidEvaluation (422).
    """
    project = await _project_for_update(session, principal, project_id)
    # The checks of `evaluate_refusal`, in its order (`allowed_actions` offers by it).
    advisors = await projects_actions.advisors_for(session, principal, project)  # R-EVAL-3
    may = evaluator_kind(principal.role.value, project.strand, advisors)
    if may.failure is not None:  # R-EVAL-3
        raise EvaluationForbidden(may.failure.message, code=may.failure.code)
    await _check_status(session, principal, project)  # R-EVAL-2: submitted or in review
    already = await session.scalar(select(evaluated_by(principal.subject, project.id)))
    second = second_evaluation_failure(bool(already))  # R-EVAL-2: once per evaluator
    if second is not None:  # said before the body's checks; UNIQUE decides races
        raise await _conflict(session, principal, project, second)
    grid = await programme_service.current_grid(session, project.programme_id, project.strand)
    if grid is None:
        raise GridMissing()
    recommendation = data.recommendation.value if data.recommendation else None
    total = _score(data.conflict_of_interest, data.scores, recommendation, grid)
    now = utcnow()
    evaluation = Evaluation(
        project_id=project.id,
        evaluator_subject=principal.subject,
        evaluator_role=principal.role.value,
        advisory=may.kind is EvaluatorKind.ADVISORY,  # R-EVAL-3
        recused=data.conflict_of_interest,
        grid_id=grid.id,
        grid_version=grid.version,
        scores=None if data.conflict_of_interest else _in_grid_order(data.scores, grid),
        weighted_total_centi=total,
        recommendation=None if data.conflict_of_interest else recommendation,
        comments=data.comments,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(evaluation)
            await session.flush()
    except IntegrityError as exc:  # UNIQUE (project, evaluator): the second one loses
        second = second_evaluation_failure(True)
        assert second is not None
        raise await _conflict(session, principal, project, second) from exc
    await refresh_summary(session, project.id)
    await audit.record(  # R-AUDIT-1 (never shown to candidates: they read no audit event)
        session,
        principal,
        object_type="evaluation",
        object_id=evaluation.id,
        departement=project.departement,
        action="recused" if evaluation.recused else "created",
        after=audit.snapshot(evaluation),
    )
    return evaluation


def _check_reader(principal: Principal) -> None:
    """R-EVAL-4: a candidate reads no evaluation, whatever route or caller asks (403)."""
    failure = reader_failure(principal.role.value)
    if failure is not None:
        raise EvaluationForbidden(failure.message, code=failure.code)


def _visible_evaluations(principal: Principal) -> Select[Evaluation]:
    """Evaluations of the dossiers in the principal's scope (R-ACL-1), in one statement."""
    stmt = select(Evaluation).join(Project, col(Project.id) == Evaluation.project_id)
    return projects_repository.scope_projects(stmt, principal)


async def get_evaluation(
    session: AsyncSession, principal: Principal, *, evaluation_id: uuid.UUID
) -> Evaluation:
    """An evaluation of a dossier in scope, else EvaluationNotFound (404, R-ACL-1); never to
    a candidate (EvaluationForbidden, 403 R-EVAL-4)."""
    _check_reader(principal)
    stmt = _visible_evaluations(principal).where(col(Evaluation.id) == evaluation_id)
    evaluation: Evaluation | None = (await session.execute(stmt)).scalar_one_or_none()
    if evaluation is None:
        raise EvaluationNotFound()
    return evaluation


async def list_evaluations(
    session: AsyncSession,
    principal: Principal,
    *,
    project_id: uuid.UUID,
    page: PageParams,
    updated_since: datetime | None = None,
) -> tuple[list[Evaluation], str | None]:
    """One page of a dossier's evaluations, oldest first (404 outside scope, R-ACL-1), void
    ones included (R-EVAL-5); never to a candidate (EvaluationForbidden, 403 R-EVAL-4).

    Issue 13: one statement (the scope is a condition of it); only an empty page looks the
    dossier up, to tell "no evaluation yet" from 404.
    """
    _check_reader(principal)
    in_scope = projects_repository.scope_projects(
        select(Project.id).where(Project.id == project_id), principal
    ).exists()
    stmt = select(Evaluation).where(Evaluation.project_id == project_id, in_scope)
    if updated_since is not None:
        stmt = stmt.where(Evaluation.updated_at >= updated_since)
    stmt = keyset_page(stmt, Evaluation.created_at, Evaluation.id, page)
    rows = list((await session.execute(stmt)).scalars().all())
    if not rows:
        await projects_reads.get_project(
            session, principal, project_id=project_id, with_lines=False
        )
    return split_page(rows, page, lambda e: (e.created_at, e.id))


async def update_evaluation(
    session: AsyncSession,
    principal: Principal,
    *,
    evaluation_id: uuid.UUID,
    if_match: str | None,
    data: EvaluationUpdate,
) -> Evaluation:
    """Its author edits an evaluation while the dossier is submitted or in review (R-EVAL-2).

    The evaluation keeps the grid version it scored (R-EVAL-1). Raises EvaluationNotFound
    (404 outside scope), EvaluationForbidden (403: another evaluator's; R-EVAL-5: ANCT on a
    dossier no longer on one of its strands), 428/412 (If-Match), EvaluationConflict (409: the
    dossier left in_review; R-EVAL-5: the evaluation is void; R-EVAL-2: a recusal turned into
    scores), InvalidEvaluation (422).
    """
    evaluation = await get_evaluation(session, principal, evaluation_id=evaluation_id)
    if evaluation.evaluator_subject != principal.subject:
        # In scope (the caller reads it), so 403 rather than 404 (R-ACL-1).
        raise EvaluationForbidden(
            "Seul son auteur modifie une évaluation (une par évaluateur, R-EVAL-2).",
            code="R-EVAL-2",
        )
    check_if_match(if_match, evaluation.version)
    project = await _project_for_update(session, principal, evaluation.project_id)
    advisors = await projects_actions.advisors_for(session, principal, project)
    strand = edit_strand_failure(principal.role.value, project.strand, advisors)  # R-EVAL-5
    if strand is not None:
        raise EvaluationForbidden(strand.message, code=strand.code)
    void = void_failure(evaluation.status)  # R-EVAL-5: for good, so said before the status
    if void is not None:
        raise await _conflict(session, principal, project, void)
    await _check_status(session, principal, project)
    sent = data.model_fields_set
    recused = data.conflict_of_interest if "conflict_of_interest" in sent else evaluation.recused
    final = recusal_final_failure(  # R-EVAL-2: a recusal is final
        was_recused=evaluation.recused,
        recused=recused,
        gives_scores=data.scores is not None or data.recommendation is not None,
    )
    if final is not None:
        raise await _conflict(session, principal, project, final)
    before = audit.snapshot(evaluation)
    scores: Mapping[str, int] | None
    recommendation: str | None
    if recused:
        scores, recommendation = data.scores, data.recommendation
    else:
        kept = not evaluation.recused  # a former recusal has nothing to keep
        scores = data.scores if "scores" in sent else (evaluation.scores if kept else None)
        recommendation = (
            data.recommendation
            if "recommendation" in sent
            else (evaluation.recommendation if kept else None)
        )
    recommendation_value = str(recommendation) if recommendation is not None else None
    grid = await session.get_one(ScoringGrid, evaluation.grid_id)
    total = _score(recused, scores, recommendation_value, grid)
    evaluation.recused = recused
    evaluation.scores = None if recused else _in_grid_order(scores, grid)
    evaluation.weighted_total_centi = total
    evaluation.recommendation = None if recused else recommendation_value
    if "comments" in sent:
        evaluation.comments = data.comments
    evaluation.updated_at = utcnow()
    await flush_versioned(session)
    await refresh_summary(session, project.id)
    await audit.record(  # R-AUDIT-1: the fields that changed, before and after
        session,
        principal,
        object_type="evaluation",
        object_id=evaluation.id,
        departement=project.departement,
        action="updated",
        before=before,
        after=audit.snapshot(evaluation),
    )
    return evaluation


async def refresh_summary(session: AsyncSession, project_id: uuid.UUID) -> ScoreSummary:
    """Recompute a dossier's summary and store it on the project row (R-EVAL-3: ANCT's
    advisory evaluations apart, never in the mean; recusals not counted; R-EVAL-5: void ones
    neither, and the mean is taken over the unrounded totals, rounded once).

    One statement reads the scored evaluations with their grids (a dossier has a handful).
    The caller holds the project row's lock, so no concurrent write can slip in between.
    """
    rows = await session.execute(
        select(Evaluation.advisory, Evaluation.scores, ScoringGrid.criteria)
        .join(ScoringGrid, col(ScoringGrid.id) == Evaluation.grid_id)
        .where(
            Evaluation.project_id == project_id,
            Evaluation.status == EvaluationStatus.ACTIVE.value,
            col(Evaluation.recused).is_(False),
        )
    )
    totals: dict[bool, list[Fraction]] = {False: [], True: []}
    for advisory, scores, criteria in rows.all():
        totals[bool(advisory)].append(exact_total(scores, grid_criteria(criteria)))
    summary = ScoreSummary(
        evaluation_count=len(totals[False]),
        mean_score_centi=mean_centi(totals[False]),
        advisory_count=len(totals[True]),
        advisory_mean_centi=mean_centi(totals[True]),
    )
    await projects_scores.record_scores(session, project_id=project_id, summary=summary)
    return summary


@projects_hooks.on_strand_change
async def void_former_strand(session: AsyncSession, principal: Principal, project: Project) -> None:
    """R-EVAL-5: a returned dossier changed strand: its scored evaluations, on the former
    strand's grid, become void (kept and readable, out of every mean, not editable; each
    evaluator may evaluate it anew on its strand's grid). A recusal scored nothing and stays:
    the conflict of interest is the evaluator's on the dossier, whatever its strand (R-EVAL-2).
    """
    scored = await session.execute(
        select(Evaluation).where(
            Evaluation.project_id == project.id,
            Evaluation.status == EvaluationStatus.ACTIVE.value,
            col(Evaluation.recused).is_(False),
        )
    )
    evaluations = list(scored.scalars().all())
    if not evaluations:
        return
    now = utcnow()
    befores = [audit.snapshot(e) for e in evaluations]
    for evaluation in evaluations:
        evaluation.status = EvaluationStatus.VOID.value
        evaluation.updated_at = now
    await flush_versioned(session)
    await refresh_summary(session, project.id)
    for evaluation, before in zip(evaluations, befores, strict=True):
        await audit.record(  # R-AUDIT-1
            session,
            principal,
            object_type="evaluation",
            object_id=evaluation.id,
            departement=project.departement,
            action="voided",
            before=before,
            after=audit.snapshot(evaluation),
        )
