"""How a dossier is shown: the read schemas built from loaded dossiers and summary rows.

R-EVAL-4 (a candidate sees no score), issue 12 (`allowed_actions` in every read), issue 13
(a page's rows read by position), and the eligibility report and history as served.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.auth.principal import Principal, Role
from app.core.lean_json import JsonShape
from app.core.rules import RuleFailure
from app.projects import (
    assessment as projects_assessment,
    reads as projects_reads,
)
from app.projects.display import centi_text
from app.projects.lifecycle_rules import Action, ProjectAction, Status
from app.projects.models import Project, ProjectTransition
from app.projects.schemas import (
    ExpenseLineRead,
    FundingLineRead,
    ProjectRead,
    TeamMemberRead,
    TransitionRead,
)


def _scores(project: Any, *, shown: bool) -> dict[str, object] | None:
    """R-EVAL-4: None for a candidate; the summary stored on the row otherwise (R-EVAL-3).
    The fields of `ProjectScores`, validated with the dossier's (one validation, issue 13)."""
    if not shown:
        return None
    return score_fields(
        project.evaluation_count,
        project.mean_score_centi,
        project.advisory_count,
        project.advisory_mean_centi,
    )


def score_fields(
    count: int, mean_centi: int | None, advisory_count: int, advisory_mean_centi: int | None
) -> dict[str, object]:
    return {
        "count": count,
        "mean_weighted_total": centi_text(mean_centi),
        "advisory_count": advisory_count,
        "advisory_mean_weighted_total": centi_text(advisory_mean_centi),
    }


def _summary_fields(
    project: Any,
    candidate_name: str,
    principal: Principal,
    actions: list[ProjectAction],
    programme: str,
) -> dict[str, object]:
    """The summary of a dossier: a loaded Project, or a list row of its summary columns, with
    what the caller may do on it now (`projects_actions.actions_for`) and its programme's
    code (R-PROG-2)."""
    shows_scores = projects_reads.shows_scores(principal)
    return {
        "id": project.id,
        "candidate_id": project.candidate_id,
        "candidate_name": candidate_name,
        "programme": programme,
        "departement": project.departement,
        "strand": project.strand,
        "title": project.title,
        "nature": project.nature,
        "status": project.status,
        "requested_cents": project.requested_cents,
        "total_cost_cents": project.total_cost_cents,
        "start_on": project.start_on,
        "end_on": project.end_on,
        "submitted_at": project.submitted_at,
        "returned_at": project.returned_at,
        "allowed_actions": actions,
        "evaluations": _scores(project, shown=shows_scores),
        "version": project.version,
        "created_at": project.created_at,
        "updated_at": project.updated_at,
    }


def to_read(
    project: Project,
    candidate_name: str,
    principal: Principal,
    actions: list[ProjectAction],
    programme: str,
) -> ProjectRead:
    return ProjectRead.model_validate(
        project_fields(project, candidate_name, principal, actions, programme)
    )


def project_fields(
    project: Project,
    candidate_name: str,
    principal: Principal,
    actions: list[ProjectAction],
    programme: str,
) -> dict[str, Any]:
    """`ProjectRead`'s fields from a loaded (or detached) Project, in the model's order and
    of its types: validated by `to_read`, or written as they are by `PROJECT_JSON` (a
    submission's answer, issue 28). R-EVAL-4: a candidate's read carries no score."""
    return {
        **_summary_fields(project, candidate_name, principal, actions, programme),
        "description": project.description,
        "objectives": project.objectives,
        "status_message": project.status_message,
        "sponsor": {"name": project.sponsor_name, "role": project.sponsor_role},
        "team": [{k: m.get(k) for k in _TEAM_FIELDS} for m in project.team],
        "agents_impacted": project.agents_impacted,
        "users_impacted": project.users_impacted,
        "replicability": project.replicability,
        "open_source": project.open_source,
        "expense_lines": [_line_fields(line, _EXPENSE_FIELDS) for line in project.expense_lines],
        "other_funding": [_line_fields(line, _FUNDING_FIELDS) for line in project.funding_lines],
    }


PROJECT_JSON = JsonShape(ProjectRead)
"""`ProjectRead`'s bytes from `project_fields`, without validating them (app.core.lean_json)."""


def _line_fields(line: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(line, name) for name in names}


def dossier_fields(dossier: projects_reads.DossierRow, principal: Principal) -> dict[str, Any]:
    """`ProjectRead`'s fields from a dossier read on the lean read path (issue 28), as
    `to_read` gives them from a loaded Project: validated once, by the route's response model.
    R-EVAL-4: a candidate's read carries no score."""
    found = dossier.row
    row = found._mapping
    return {
        **_summary_fields(
            found, row["candidate_name"], principal, dossier.allowed_actions, dossier.programme.code
        ),
        "description": row["description"],
        "objectives": row["objectives"],
        "status_message": row["status_message"],
        "sponsor": {"name": row["sponsor_name"], "role": row["sponsor_role"]},
        "team": [{k: m.get(k) for k in _TEAM_FIELDS} for m in row["team"]],
        "agents_impacted": row["agents_impacted"],
        "users_impacted": row["users_impacted"],
        "replicability": row["replicability"],
        "open_source": row["open_source"],
        "expense_lines": _with_ids(row["expense_lines"]),
        "other_funding": _with_ids(row["funding_lines"]),
    }


# A team member as `TeamMemberRead` writes it: its fields in order, an absent optional one null
# (the stored JSON leaves out what was not given).
_TEAM_FIELDS = tuple(TeamMemberRead.model_fields)
_EXPENSE_FIELDS = tuple(ExpenseLineRead.model_fields)
_FUNDING_FIELDS = tuple(FundingLineRead.model_fields)


def _with_ids(lines: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """A dossier's lines from their JSON aggregate (NULL on PostgreSQL for no line), each in
    its model's field order (`EXPENSE_FIELDS`, `FUNDING_FIELDS`), its id a UUID: the JSON's
    only value that is not of its model's type (the route writes it unvalidated, issue 28)."""
    if not lines:
        return []
    for line in lines:
        line["id"] = uuid.UUID(line["id"])
    return lines


def _failure_fields(failure: RuleFailure) -> dict[str, object]:
    return {"code": failure.code, "message": failure.message, "field": failure.field}


def eligibility_fields(found: projects_assessment.Eligibility) -> dict[str, object]:
    """`EligibilityRead`'s fields (validated once, by the route's response model, issue 28)."""
    project, report = found.project, found.report
    lines = {str(line.id): line for line in project.expense_lines}
    excluded = [
        {
            "line_id": uuid.UUID(o.ref) if o.ref else None,
            "position": o.index,
            "label": lines[o.ref].label if o.ref in lines else "",
            "amount_cents": o.amount_cents,
            "eligible_cents": o.eligible_cents,
            "excluded_cents": o.excluded_cents,
            "rule": o.rule or "",
            "reason": o.reason or "",
        }
        for o in report.cost.excluded
    ]
    return {
        "project_id": project.id,
        "status": Status(project.status),
        "eligible": report.eligible,
        "total_cost_cents": report.cost.total_cost_cents,
        "eligible_cost_cents": report.cost.eligible_cost_cents,
        "excluded_cents": sum(o.excluded_cents for o in report.cost.excluded),
        "excluded": excluded,
        "funding_cap_cents": report.funding_cap_cents,
        "forfait_cents": report.forfait_cents,
        "forfait_tier": report.forfait_tier,
        "max_grant_cents": report.max_grant_cents,
        "requested_cents": project.requested_cents,
        "other_public_funding_cents": report.other_public_funding_cents,
        "failures": [_failure_fields(f) for f in report.failures],
        "documents_step": found.documents_step,
        "missing_documents": [_failure_fields(f) for f in found.missing_documents],
    }


def transition_read(item: ProjectTransition, *, hide_agent: bool) -> TransitionRead:
    from_state = Status(item.from_status) if item.from_status else None
    state_agent = item.actor_role != Role.CANDIDATE.value
    return TransitionRead(
        id=item.id or 0,
        action=Action(item.action),
        from_status=from_state,
        to_status=Status(item.to_status),
        actor_role=Role(item.actor_role),
        actor=None if hide_agent and state_agent else item.actor_subject,
        message=item.message,
        at=item.at,
    )
