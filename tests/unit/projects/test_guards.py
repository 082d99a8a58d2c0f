"""The guarded actions of `allowed_actions` (issue 12): `evaluate` (R-EVAL-2, R-EVAL-3) and
`final-report` (R-FLOW-1, R-PAY-2) are offered by the same predicates their services judge by,
reading facts selected with the dossier; an action with no registered guard is never offered.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from app.auth.principal import Principal, Role
from app.budgets import payments as payments_service
from app.budgets.rules import final_report_refusal
from app.evaluations import service as evaluations_service
from app.evaluations.rules import evaluate_refusal
from app.projects import guards
from app.projects.actions import actions_for, page_actions
from app.projects.lifecycle_rules import ProjectAction, Status
from app.projects.repository import SUMMARY_NAMES
from app.projects.schemas import ProjectSummary
from tests.unit.projects.fitn7 import ADVISORS

PREFECT = Principal("prefet-13", Role.PREFECT, departement="13")
ANCT = Principal("anct", Role.ANCT)
EVALUATED = evaluations_service.EVALUATED
GRANT_STATUS = payments_service.GRANT_STATUS
RECORDED = payments_service.FINAL_REPORT_RECORDED


@pytest.mark.parametrize(
    ("role", "strand", "status", "already", "code"),
    [
        ("prefect", "3c", "in_review", False, None),
        ("prefect", "3a", "submitted", False, None),
        ("anct", "3b", "in_review", False, None),
        ("anct", "3c", "in_review", False, "R-EVAL-3"),  # ANCT on 3b only
        ("dinum", "3b", "in_review", False, "R-EVAL-3"),
        ("candidate", "3b", "in_review", False, "R-EVAL-3"),
        ("prefect", "3c", "draft", False, "R-EVAL-2"),  # submitted or in review only
        ("prefect", "3c", "accepted", False, "R-EVAL-2"),  # decided by a committee
        ("prefect", "3c", "in_review", True, "R-EVAL-2"),  # once per evaluator
        ("anct", "3c", "draft", True, "R-EVAL-3"),  # the first rule that refuses is named
    ],
)
def test_evaluate_refusal_names_the_first_rule_r_eval_3_then_r_eval_2(
    role: str, strand: str, status: str, already: bool, code: str | None
) -> None:
    failure = evaluate_refusal(
        role=role,
        strand=strand,
        status=status,
        already_evaluated=already,
        advisors=ADVISORS[strand],
    )
    assert (failure.code if failure else None) == code


@pytest.mark.parametrize(
    ("status", "grant_status", "recorded", "code"),
    [
        (Status.UNDER_CONVENTION, "active", False, None),
        (Status.ACCEPTED, "active", False, "R-FLOW-1"),  # before the convention
        (Status.PAID, "closed", True, "R-FLOW-1"),
        (Status.UNDER_CONVENTION, "cancelled", False, "R-FLOW-1"),  # grant no longer active
        (Status.UNDER_CONVENTION, None, False, "R-FLOW-1"),
        (Status.UNDER_CONVENTION, "active", True, "R-PAY-2"),  # once
    ],
)
def test_final_report_refusal_r_flow_1_then_r_pay_2(
    status: Status, grant_status: str | None, recorded: bool, code: str | None
) -> None:
    failure = final_report_refusal(status, grant_status=grant_status, recorded=recorded)
    assert (failure.code if failure else None) == code


def dossier(status: Status, strand: str = "3c") -> Any:
    return SimpleNamespace(status=status.value, strand=strand)


@pytest.mark.parametrize(
    ("principal", "strand", "already", "offered"),
    [
        (PREFECT, "3c", False, True),
        (PREFECT, "3c", True, False),  # R-EVAL-2
        (ANCT, "3b", False, True),
        (ANCT, "3c", False, False),  # R-EVAL-3
        (ANCT, "3b", True, False),  # R-EVAL-2
    ],
)
def test_evaluate_is_offered_by_its_guard(
    principal: Principal, strand: str, already: bool, offered: bool
) -> None:
    advisors = ADVISORS[strand]  # R-EVAL-3: the programme's data (FITN7: ANCT on 3b)
    actions = actions_for(
        principal, dossier(Status.IN_REVIEW, strand), {EVALUATED: already}, advisors
    )
    assert (ProjectAction.EVALUATE in actions) is offered


def test_r_eval_3_evaluate_follows_the_strand_advisors_not_its_code() -> None:
    """R-EVAL-3 is data: ANCT is offered `evaluate` on a strand whose advisors name it,
    whatever its code, and not on one that names nobody."""
    row = dossier(Status.IN_REVIEW, "services")
    assert ProjectAction.EVALUATE in actions_for(ANCT, row, {EVALUATED: False}, frozenset({"anct"}))
    assert ProjectAction.EVALUATE not in actions_for(ANCT, row, {EVALUATED: False}, frozenset())


@pytest.mark.parametrize(
    ("grant_status", "recorded", "offered"),
    [("active", False, True), ("active", True, False), ("cancelled", False, False)],
)
def test_final_report_is_offered_by_its_guard(
    grant_status: str, recorded: bool, offered: bool
) -> None:
    facts = {GRANT_STATUS: grant_status, RECORDED: recorded}
    actions = actions_for(PREFECT, dossier(Status.UNDER_CONVENTION), facts, frozenset())
    assert (ProjectAction.FINAL_REPORT in actions) is offered
    assert [ProjectAction.PAYMENTS, ProjectAction.CANCEL] == actions[:2]


def test_a_guarded_action_without_a_registered_guard_is_never_offered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(guards, "_guards", {})
    actions = actions_for(PREFECT, dossier(Status.IN_REVIEW), {}, frozenset())
    assert actions == [ProjectAction.RETURN, ProjectAction.CLOSE]


def test_fact_names_are_not_shared_between_guards() -> None:
    register = guards.guard(ProjectAction.EDIT, facts={EVALUATED: evaluations_service.evaluated_by})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="already registered"):
        register(lambda _principal, _dossier: True)


def test_only_the_roles_of_a_guarded_action_select_its_facts() -> None:
    """A candidate's or DINUM's reads select no fact (issue 13: nothing they do not need)."""
    for role in (Role.CANDIDATE, Role.DINUM):
        assert guards.fact_columns(Principal("x", role, siren="211300553")) == []
    assert {c.name for c in guards.fact_columns(ANCT)} == {f"fact_{EVALUATED}"}
    assert {c.name for c in guards.fact_columns(PREFECT)} == {
        f"fact_{EVALUATED}",
        f"fact_{GRANT_STATUS}",
        f"fact_{RECORDED}",
    }


def test_a_page_judges_each_row_as_actions_for_does() -> None:
    """Issue 13: a list page judges once per distinct (state, strand, facts), and every row
    gets what `actions_for` would give it alone (R-EVAL-2, R-EVAL-3, R-PAY-2)."""
    rows = [
        (dossier(status, strand), facts)
        for status in (Status.IN_REVIEW, Status.UNDER_CONVENTION, Status.DRAFT)
        for strand in ("3b", "3c")
        for facts in (
            {EVALUATED: False, GRANT_STATUS: "active", RECORDED: False},
            {EVALUATED: True, GRANT_STATUS: "active", RECORDED: True},
            {EVALUATED: False, GRANT_STATUS: None, RECORDED: False},
        )
    ]
    programme = uuid.uuid4()
    advisors = {(programme, strand): ADVISORS[strand] for strand in ("3b", "3c")}
    for principal in (PREFECT, ANCT):
        page = page_actions(principal, advisors)
        for _ in range(2):  # the second pass answers from what the first judged
            for row, facts in rows:
                summary = {"status": row.status, "strand": row.strand, "programme_id": programme}
                expected = actions_for(principal, row, facts, ADVISORS[row.strand])
                assert page(summary, facts) == expected


def test_a_list_row_reads_by_position_every_field_of_a_summary() -> None:
    """Issue 13: a list row is read by position (`summary_values`), its names those of the
    summary's fields but for the four score columns folded into `evaluations`."""
    scores = {"evaluation_count", "mean_score_centi", "advisory_count", "advisory_mean_centi"}
    names = set(SUMMARY_NAMES)
    assert len(names) == len(SUMMARY_NAMES)
    computed = {"allowed_actions", "evaluations", "programme"}  # the list's programme
    read_only = {"programme_id"}  # R-EVAL-3: who advises on its strand (not shown)
    assert (names - scores - read_only) | computed == set(ProjectSummary.model_fields)
