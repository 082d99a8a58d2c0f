"""Pure rules of a dossier's lifecycle: its states, transitions and what a caller may do now.

R-FLOW-1 (transitions), R-FLOW-3 (drafts only are edited), the states of the actions that are
not transitions (R-EVAL-2, R-PAY-2), who drives each action, and what a caller may do now
(`allowed_actions`, issue 12; the facts of higher domains are registered in `guards`).
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache

from app.auth.principal import Role


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"
    UNDER_CONVENTION = "under_convention"
    PAID = "paid"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


STATUS_LABELS_FR = {
    Status.DRAFT: "brouillon",
    Status.SUBMITTED: "déposé",
    Status.IN_REVIEW: "en instruction",
    Status.ACCEPTED: "accepté",
    Status.REJECTED: "refusé",
    Status.WITHDRAWN: "retiré",
    Status.CLOSED: "classé sans suite",
    Status.UNDER_CONVENTION: "conventionné",
    Status.PAID: "soldé",
    Status.COMPLETED: "terminé",
    Status.CANCELLED: "annulé",
}


class Action(StrEnum):
    CREATE = "create"
    SUBMIT = "submit"
    WITHDRAW = "withdraw"
    START_REVIEW = "start-review"
    RETURN = "return"
    CLOSE = "close"
    ACCEPT = "accept"
    REJECT = "reject"
    SIGN_CONVENTION = "convention"
    PAY_BALANCE = "pay-balance"
    COMPLETE = "complete"
    CANCEL = "cancel"


# R-FLOW-1: every allowed transition; anything else is a 409 naming both states.
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status]] = {
    Action.SUBMIT: (frozenset({Status.DRAFT}), Status.SUBMITTED),
    Action.WITHDRAW: (
        frozenset({Status.DRAFT, Status.SUBMITTED, Status.IN_REVIEW}),
        Status.WITHDRAWN,
    ),
    Action.START_REVIEW: (frozenset({Status.SUBMITTED}), Status.IN_REVIEW),
    Action.RETURN: (frozenset({Status.IN_REVIEW}), Status.DRAFT),
    Action.CLOSE: (frozenset({Status.IN_REVIEW}), Status.CLOSED),
    Action.ACCEPT: (frozenset({Status.IN_REVIEW}), Status.ACCEPTED),
    Action.REJECT: (frozenset({Status.IN_REVIEW}), Status.REJECTED),
    Action.SIGN_CONVENTION: (frozenset({Status.ACCEPTED}), Status.UNDER_CONVENTION),
    Action.PAY_BALANCE: (frozenset({Status.UNDER_CONVENTION}), Status.PAID),
    Action.COMPLETE: (frozenset({Status.PAID}), Status.COMPLETED),
    Action.CANCEL: (frozenset({Status.ACCEPTED, Status.UNDER_CONVENTION}), Status.CANCELLED),
}


class ProjectAction(StrEnum):
    """Une action possible sur un dossier, telle que `allowed_actions` la nomme : `edit` est
    PATCH /projects/{id}, `evaluate` POST /projects/{id}/evaluations, les autres
    POST /projects/{id}/<action>."""

    # The value is the last segment of the operation's path (but `evaluate`, which posts to
    # `evaluations`); `convention`, `payments`, `cancel` and `final-report` are the budgets
    # domain's routes on the dossier, `evaluate` the evaluations domain's, judged by this table
    # too (their other facts are registered in app.projects.guards).

    EDIT = "edit"
    SUBMIT = Action.SUBMIT.value
    WITHDRAW = Action.WITHDRAW.value
    START_REVIEW = Action.START_REVIEW.value
    RETURN = Action.RETURN.value
    CLOSE = Action.CLOSE.value
    CONVENTION = Action.SIGN_CONVENTION.value
    PAYMENTS = "payments"
    CANCEL = Action.CANCEL.value
    EVALUATE = "evaluate"
    FINAL_REPORT = "final-report"


# R-FLOW-3: only a draft is edited (a returned dossier is a draft again).
EDITABLE: frozenset[Status] = frozenset({Status.DRAFT})
# R-FLOW-1: payments are recorded under a signed convention only (the balance moves it on).
PAYABLE: frozenset[Status] = frozenset({Status.UNDER_CONVENTION})
# R-EVAL-2: a dossier is evaluated while submitted or in review; a committee's close moves it
# out of in_review (accepted/rejected), which ends its evaluations.
EVALUABLE: frozenset[Status] = frozenset({Status.SUBMITTED, Status.IN_REVIEW})
# R-PAY-2: the final report comes under a signed convention (it opens the balance).
REPORTABLE: frozenset[Status] = frozenset({Status.UNDER_CONVENTION})
# The states of the actions that are not transitions (R-FLOW-1's TRANSITIONS hold the others).
ACTION_STATES: dict[ProjectAction, frozenset[Status]] = {
    ProjectAction.EDIT: EDITABLE,
    ProjectAction.PAYMENTS: PAYABLE,
    ProjectAction.EVALUATE: EVALUABLE,
    ProjectAction.FINAL_REPORT: REPORTABLE,
}

# Who drives each action on a dossier in their scope (R-ACL-1 does the scope): the routes'
# `require_roles(...)` are built from this table, so the offer and the judge cannot drift.
ACTION_ROLES: dict[ProjectAction, frozenset[Role]] = {
    ProjectAction.EDIT: frozenset({Role.CANDIDATE}),
    ProjectAction.SUBMIT: frozenset({Role.CANDIDATE}),
    ProjectAction.WITHDRAW: frozenset({Role.CANDIDATE}),
    ProjectAction.START_REVIEW: frozenset({Role.PREFECT}),
    ProjectAction.RETURN: frozenset({Role.PREFECT}),
    ProjectAction.CLOSE: frozenset({Role.PREFECT}),
    ProjectAction.CONVENTION: frozenset({Role.PREFECT}),
    ProjectAction.PAYMENTS: frozenset({Role.PREFECT}),
    ProjectAction.CANCEL: frozenset({Role.PREFECT}),
    # R-EVAL-3: the prefecture evaluates, ANCT too (on the strands its programme names it
    # advisor of: a registered guard says so).
    ProjectAction.EVALUATE: frozenset({Role.PREFECT, Role.ANCT}),
    ProjectAction.FINAL_REPORT: frozenset({Role.PREFECT}),  # R-PAY-2
}
# Actions whose offer also hangs on facts a higher domain judges (R-EVAL-2, R-EVAL-3: who
# evaluated, on which strand; R-PAY-2: the grant): offered only when the guard it registered
# in app.projects.guards permits them, never when no guard is registered.
GUARDED: frozenset[ProjectAction] = frozenset({ProjectAction.EVALUATE, ProjectAction.FINAL_REPORT})


def state_allows(status: Status, action: ProjectAction) -> bool:
    """R-FLOW-1 / R-FLOW-3 / R-EVAL-2 / R-PAY-2: the dossier's state lets `action` happen
    (whoever asks)."""
    if action in ACTION_STATES:
        return status in ACTION_STATES[action]
    sources, _target = TRANSITIONS[Action(action.value)]
    return status in sources


def allowed_actions(status: Status, role: Role) -> list[ProjectAction]:
    """What `role` may do on a dossier in `status` within its scope (issue 12): the
    lifecycle table of the README.

    The same two checks the server makes when the action comes: the role (ACTION_ROLES, 403)
    and the state (TRANSITIONS / ACTION_STATES, 409). The GUARDED actions are then narrowed by
    the facts of the dossier (app.projects.guards: R-EVAL-2, R-EVAL-3, R-PAY-2). What the body
    then says is judged apart: submit runs the eligibility check (R-FLOW-2, 422), a payment its
    caps (R-PAY-1, R-PAY-2), an evaluation its grid (R-EVAL-1, 422).
    """
    return list(_allowed_actions(status, role))


@cache
def _allowed_actions(status: Status, role: Role) -> tuple[ProjectAction, ...]:
    """The table itself, worked out once per (state, role): a list page asks it per row."""
    return tuple(
        action
        for action, roles in ACTION_ROLES.items()
        if role in roles and state_allows(status, action)
    )


class IllegalTransition(Exception):
    def __init__(self, current: Status, action: Action) -> None:
        self.current = current
        self.action = action
        self.target = TRANSITIONS[action][1]
        super().__init__(f"{current} -/-> {self.target}")


def next_status(current: Status, action: Action) -> Status:
    """R-FLOW-1: the state `action` leads to from `current`, or IllegalTransition."""
    sources, target = TRANSITIONS[action]
    if current not in sources:
        raise IllegalTransition(current, action)
    return target
