"""allowed_actions: what a role may do now on a dossier in a state (issue 12, R-FLOW-1, R-FLOW-3).

The table is the lifecycle of the README, read from the same TRANSITIONS and ACTION_ROLES the
server judges by; tests/api/projects/test_allowed_actions.py proves the server agrees.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.auth.principal import Role
from app.projects.lifecycle_rules import ProjectAction, Status, allowed_actions, state_allows

E, S, W, R, RET, C = (
    ProjectAction.EDIT,
    ProjectAction.SUBMIT,
    ProjectAction.WITHDRAW,
    ProjectAction.START_REVIEW,
    ProjectAction.RETURN,
    ProjectAction.CLOSE,
)
CONV, PAY, CAN = ProjectAction.CONVENTION, ProjectAction.PAYMENTS, ProjectAction.CANCEL
EV, FR = ProjectAction.EVALUATE, ProjectAction.FINAL_REPORT

CANDIDATE = {Status.DRAFT: [E, S, W], Status.SUBMITTED: [W], Status.IN_REVIEW: [W]}
PREFECT = {
    Status.SUBMITTED: [R, EV],
    Status.IN_REVIEW: [RET, C, EV],
    Status.ACCEPTED: [CONV, CAN],
    Status.UNDER_CONVENTION: [PAY, CAN, FR],
}
# R-EVAL-3: ANCT evaluates (3b only: its guard narrows it), nothing else.
ANCT = {Status.SUBMITTED: [EV], Status.IN_REVIEW: [EV]}


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize(
    ("role", "table"),
    [(Role.CANDIDATE, CANDIDATE), (Role.PREFECT, PREFECT), (Role.DINUM, {}), (Role.ANCT, ANCT)],
)
def test_allowed_actions_by_role_and_state(
    role: Role, table: dict[Status, list[ProjectAction]], status: Status
) -> None:
    assert allowed_actions(status, role) == table.get(status, [])


@pytest.mark.parametrize("status", list(Status))
def test_r_flow_3_only_a_draft_is_edited(status: Status) -> None:
    assert state_allows(status, ProjectAction.EDIT) is (status is Status.DRAFT)


# R-FLOW-1 (transitions), R-FLOW-3, R-EVAL-2, R-PAY-2: the states each action starts from,
# whoever asks. Asked of state_allows itself: allowed_actions caches its table, which would
# hide a broken state_allows from a test (and from mutmut) once the table is computed.
STATES = {
    E: {Status.DRAFT},
    S: {Status.DRAFT},
    W: {Status.DRAFT, Status.SUBMITTED, Status.IN_REVIEW},
    R: {Status.SUBMITTED},
    RET: {Status.IN_REVIEW},
    C: {Status.IN_REVIEW},
    CONV: {Status.ACCEPTED},
    PAY: {Status.UNDER_CONVENTION},
    CAN: {Status.ACCEPTED, Status.UNDER_CONVENTION},
    EV: {Status.SUBMITTED, Status.IN_REVIEW},
    FR: {Status.UNDER_CONVENTION},
}


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("action", list(ProjectAction))
def test_r_flow_1_state_allows_each_action_from_its_states(
    action: ProjectAction, status: Status
) -> None:
    assert state_allows(status, action) is (status in STATES[action])


@pytest.mark.parametrize(
    "status",
    [Status.REJECTED, Status.WITHDRAWN, Status.CLOSED, Status.PAID, Status.COMPLETED],
)
def test_r_flow_1_refused_or_ended_dossiers_offer_nothing(status: Status) -> None:
    assert all(allowed_actions(status, role) == [] for role in Role)


def test_the_readme_lifecycle_table_is_the_rules_table() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    rows = {
        cells[0].strip("`"): cells[1 : 1 + len(ProjectAction)]
        for line in readme.splitlines()
        if line.startswith("| `")
        and (cells := [c.strip() for c in line.strip("|").split("|")])[0].strip("`")
        in {s.value for s in Status}
    }
    assert set(rows) == {s.value for s in Status}
    for status in Status:
        expected = [
            ", ".join(r.value for r in Role if action in allowed_actions(status, r)) or "—"
            for action in ProjectAction
        ]
        assert rows[status.value] == expected, status
