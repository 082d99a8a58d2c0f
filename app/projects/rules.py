"""Pure rules of a project: eligible cost, caps, eligibility, lifecycle.

R-EXCL-1, R-EXCL-2 (eligible cost, licence origin: the programme's categories say which lines
they reach, R-PROG-1), R-EXCL-3 (nothing eligible), R-CAP-1,
R-CAP-2 (caps), R-ELIG-3..8 (eligibility),
R-FLOW-1 (transitions), R-FLOW-3 (drafts only are edited), and what a caller may do now
(`allowed_actions`, issue 12; the facts of higher domains are registered in `guards`). Integer
cents and basis points only; `today` is passed in.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import cache

from app.auth.principal import Role
from app.core.rules import RuleFailure
from app.programme.rules import Category, programme_open_problems

BPS = 10_000


class VendorOrigin(StrEnum):
    EU = "eu"
    EXTRA_EU = "extra_eu"


class Nature(StrEnum):
    """R-ELIG-4 : la nature déclarée du projet."""

    TRANSFORMATION = "transformation"
    INNOVATION = "innovation"
    MODERNISATION = "modernisation"


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


@dataclass(frozen=True)
class ExpenseLineFacts:
    category: str  # the code of one of the programme's categories (R-PROG-1)
    amount_cents: int
    label: str = ""
    vendor_origin: VendorOrigin | None = None
    ref: str | None = None  # the line's id, echoed in the report


@dataclass(frozen=True)
class LineOutcome:
    """What part of one expense line is eligible, and why the rest is not."""

    index: int
    ref: str | None
    amount_cents: int
    eligible_cents: int
    excluded_cents: int
    rule: str | None
    reason: str | None


@dataclass(frozen=True)
class EligibleCost:
    total_cost_cents: int
    eligible_cost_cents: int
    lines: tuple[LineOutcome, ...]

    @property
    def excluded(self) -> tuple[LineOutcome, ...]:
        return tuple(line for line in self.lines if line.excluded_cents > 0)


Categories = Mapping[str, Category]
"""A programme's expense categories by code (R-PROG-1)."""


def by_code(categories: Iterable[Category]) -> dict[str, Category]:
    return {c.code: c for c in categories}


def is_extra_eu_licence(line: ExpenseLineFacts, categories: Categories) -> bool:
    """R-EXCL-2: a line of a share-capped category (a licence) whose vendor is extra-EU, or
    not stated (it cannot escape the cap: until its origin is given it counts as extra-EU,
    and the dossier cannot be submitted)."""
    category = categories.get(line.category)
    return (
        category is not None
        and category.share_capped
        and not category.excluded
        and line.vendor_origin is not VendorOrigin.EU
    )


def _counts_fully(line: ExpenseLineFacts, categories: Categories) -> bool:
    category = categories.get(line.category)
    return (
        category is not None and not category.excluded and not is_extra_eu_licence(line, categories)
    )


def extra_eu_licence_allowance(other_eligible_cents: int, share_cap_bps: int) -> int:
    """R-EXCL-2: floor(s·E/(1−s)), so that allowed licences are at most s of the eligible cost."""
    if share_cap_bps <= 0 or other_eligible_cents <= 0:
        return 0
    if share_cap_bps >= BPS:
        raise ValueError("the extra-EU licence share cap must be below 100 %")
    return (share_cap_bps * other_eligible_cents) // (BPS - share_cap_bps)


def eligible_cost(
    lines: Sequence[ExpenseLineFacts], share_cap_bps: int, categories: Iterable[Category]
) -> EligibleCost:
    """R-EXCL-1 (the programme's excluded categories) and R-EXCL-2 (its share-capped ones,
    extra-EU licences, capped), as the programme's `categories` say (R-PROG-1).

    Lines are kept whole in the dossier; the report says line by line what is excluded. The
    extra-EU allowance is given to the share-capped lines in their order. A line of a category
    the programme does not have (R-PROG-1) counts for nothing.
    """
    known = by_code(categories)
    other_eligible = sum(line.amount_cents for line in lines if _counts_fully(line, known))
    allowance = extra_eu_licence_allowance(other_eligible, share_cap_bps)
    outcomes: list[LineOutcome] = []
    for index, line in enumerate(lines):
        category = known.get(line.category)
        if category is None or category.excluded:
            outcomes.append(
                LineOutcome(
                    index,
                    line.ref,
                    line.amount_cents,
                    0,
                    line.amount_cents,
                    "R-PROG-1" if category is None else "R-EXCL-1",
                    f"la catégorie « {line.category} » n'est pas une catégorie du programme."
                    if category is None
                    else f"Les dépenses de la catégorie « {category.label} » sont exclues du "
                    "programme.",
                )
            )
        elif is_extra_eu_licence(line, known):
            kept = min(line.amount_cents, allowance)
            allowance -= kept
            excess = line.amount_cents - kept
            outcomes.append(
                LineOutcome(
                    index,
                    line.ref,
                    line.amount_cents,
                    kept,
                    excess,
                    "R-EXCL-2" if excess else None,
                    (
                        f"{category.label} d'éditeurs extra-communautaires au-delà de la part "
                        f"marginale autorisée ({share_cap_bps / 100:g} % du coût éligible)."
                    )
                    if excess
                    else None,
                )
            )
        else:
            outcomes.append(
                LineOutcome(index, line.ref, line.amount_cents, line.amount_cents, 0, None, None)
            )
    return EligibleCost(
        total_cost_cents=sum(line.amount_cents for line in lines),
        eligible_cost_cents=sum(o.eligible_cents for o in outcomes),
        lines=tuple(outcomes),
    )


def check_categories(
    categories: Sequence[str], programme_categories: Iterable[Category]
) -> list[RuleFailure]:
    """R-PROG-1: every expense line names one of the programme's categories; the failure
    points at the line and lists the codes allowed."""
    allowed = [c.code for c in programme_categories]
    known = set(allowed)
    return [
        RuleFailure(
            "R-PROG-1",
            f"Ligne {index + 1} : la catégorie « {code} » n'est pas une catégorie du programme "
            f"(attendu : {', '.join(allowed)}).",
            f"/expense_lines/{index}/category",
        )
        for index, code in enumerate(categories)
        if code not in known
    ]


def check_licence_origins(
    lines: Sequence[ExpenseLineFacts], categories: Iterable[Category]
) -> list[RuleFailure]:
    """R-EXCL-2: every line of a share-capped category (a licence) states its vendor origin
    (a draft may lack it, a submission may not); the failure points at the line."""
    capped = {c.code for c in categories if c.share_capped and not c.excluded}
    return [
        RuleFailure(
            "R-EXCL-2",
            f"Ligne {index + 1} ({line.label or 'licence'}) : l'origine de l'éditeur de la "
            "licence (eu ou extra_eu) doit être indiquée.",
            f"/expense_lines/{index}/vendor_origin",
        )
        for index, line in enumerate(lines)
        if line.category in capped and line.vendor_origin is None
    ]


def check_eligible_cost(cost: EligibleCost) -> list[RuleFailure]:
    """R-EXCL-3: a dossier whose eligible cost is 0 cannot be submitted; the refusal names the
    exclusion (R-EXCL-1, R-EXCL-2) that removed each line, before the cap that follows."""
    if not cost.lines or cost.eligible_cost_cents > 0:
        return []
    failures = [
        RuleFailure(
            "R-EXCL-3",
            "Le coût éligible du dossier est nul : aucune dépense ne peut être financée.",
            "/expense_lines",
        )
    ]
    failures += [
        RuleFailure(
            line.rule,
            f"Ligne {line.index + 1} exclue ({euros(line.excluded_cents)}) : {line.reason}",
            f"/expense_lines/{line.index}",
        )
        for line in cost.lines
        if line.rule is not None and line.reason is not None
    ]
    return failures


def funding_cap_cents(eligible_cost_cents: int, cap_rate_bps: int) -> int:
    """R-CAP-1: eligible cost × funding cap rate, rounded down to the cent."""
    return (eligible_cost_cents * cap_rate_bps) // BPS


def max_grant_cents(
    eligible_cost_cents: int, cap_rate_bps: int, forfait_cents: int | None = None
) -> int:
    """R-CAP-1, R-CAP-3: the cap, or min(forfait, cap) when a forfait applies."""
    cap = funding_cap_cents(eligible_cost_cents, cap_rate_bps)
    return cap if forfait_cents is None else min(forfait_cents, cap)


def forfait_binds(forfait_cents: int | None, funding_cap_cents: int) -> bool:
    """R-CAP-3: the forfait is the binding ceiling, below the R-CAP-1 cap (at equal amounts the
    cap binds, as at the committee's decision, app.budgets.rules.check_grant_amount)."""
    return forfait_cents is not None and forfait_cents < funding_cap_cents


def check_caps(
    *,
    requested_cents: int,
    max_grant: int,
    total_cost_cents: int,
    other_public_funding_cents: int,
    funding_cap: int | None = None,
    forfait: int | None = None,
    forfait_tier: str | None = None,
) -> list[RuleFailure]:
    """R-CAP-1 (requested ≤ cap), R-CAP-3 (requested ≤ forfait, named with its tier, when the
    forfait is the binding ceiling) and R-CAP-2 (all public funding ≤ total cost)."""
    failures = []
    public_cents = requested_cents + other_public_funding_cents
    if requested_cents > max_grant:
        if funding_cap is not None and forfait_binds(forfait, funding_cap):
            tier = f" du palier « {forfait_tier} »" if forfait_tier else ""
            failures.append(
                RuleFailure(
                    "R-CAP-3",
                    f"Montant demandé ({euros(requested_cents)}) supérieur au forfait du volet "
                    f"({euros(max_grant)}{tier}) : la subvention ne peut pas le dépasser.",
                    "/requested_cents",
                )
            )
        else:
            failures.append(
                RuleFailure(
                    "R-CAP-1",
                    f"Montant demandé ({euros(requested_cents)}) supérieur au plafond "
                    f"({euros(max_grant)}).",
                    "/requested_cents",
                )
            )
    if public_cents > total_cost_cents:
        # The field to change: the request when it alone exceeds the cost, else the funding.
        alone = requested_cents > total_cost_cents
        failures.append(
            RuleFailure(
                "R-CAP-2",
                f"Financements publics cumulés ({euros(public_cents)}) supérieurs au coût "
                f"total du projet ({euros(total_cost_cents)})"
                + (" : le montant demandé dépasse à lui seul ce coût." if alone else "."),
                "/requested_cents" if alone else "/other_funding",
            )
        )
    return failures


def add_months(start: date, months: int) -> date:
    """Calendar months later, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb).

    Past the calendar's last day the result is `date.max` (no date can be later), so that no
    stored date, however far, makes a comparison overflow (`year 10001 is out of range`).
    """
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    if year > date.max.year:
        return date.max
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class ProgrammeTerms:
    window_opens_on: date
    window_closes_on: date | None
    results_deadline: date
    max_duration_months: int
    funding_cap_rate_bps: int  # R-CAP-1: the dossier's strand's rate in force
    extra_eu_licence_share_cap_bps: int
    categories: tuple[Category, ...]  # R-PROG-1: R-EXCL-1, R-EXCL-2 read them
    status: str = "published"  # R-PROG-1: only a published programme takes submissions


@dataclass(frozen=True)
class ProjectFacts:
    title: str | None
    description: str | None
    nature: Nature | None
    start_on: date | None
    end_on: date | None
    sponsor_name: str | None
    sponsor_role: str | None
    requested_cents: int
    expense_lines: tuple[ExpenseLineFacts, ...]
    other_public_funding_cents: int
    forfait_cents: int | None = None
    forfait_tier: str | None = None  # R-CAP-3: the label of the tier that set the forfait


@dataclass(frozen=True)
class EligibilityReport:
    cost: EligibleCost
    funding_cap_cents: int
    max_grant_cents: int
    forfait_cents: int | None
    other_public_funding_cents: int
    failures: tuple[RuleFailure, ...] = field(default_factory=tuple)
    forfait_tier: str | None = None

    @property
    def eligible(self) -> bool:
        return not self.failures


def check_dates(facts: ProjectFacts, terms: ProgrammeTerms) -> list[RuleFailure]:
    """R-ELIG-5 (results before the deadline) and R-ELIG-6 (concrete effect within 2 years)."""
    if facts.start_on is None or facts.end_on is None:
        return [
            RuleFailure(
                "R-ELIG-6",
                "Les dates de début et de fin du projet sont requises.",
                "/start_on" if facts.start_on is None else "/end_on",
            )
        ]
    failures = []
    if facts.end_on <= facts.start_on:  # a project ends after it starts
        failures.append(
            RuleFailure("R-ELIG-6", "La date de fin doit suivre la date de début.", "/end_on")
        )
    if facts.end_on > terms.results_deadline:
        failures.append(
            RuleFailure(
                "R-ELIG-5",
                f"Le projet doit donner des résultats tangibles avant le "
                f"{terms.results_deadline:%d/%m/%Y} (fin prévue le {facts.end_on:%d/%m/%Y}).",
                "/end_on",
            )
        )
    if facts.end_on > add_months(facts.start_on, terms.max_duration_months):
        failures.append(
            RuleFailure(
                "R-ELIG-6",
                f"Le projet doit avoir un effet concret sous {terms.max_duration_months} mois "
                "(durée dépassée).",
                "/end_on",
            )
        )
    return failures


def check_window(today: date, terms: ProgrammeTerms) -> list[RuleFailure]:
    """R-ELIG-7: submission only while the window is open."""
    if today < terms.window_opens_on:
        return [
            RuleFailure(
                "R-ELIG-7",
                f"Le guichet ouvre le {terms.window_opens_on:%d/%m/%Y}.",
                None,
            )
        ]
    if terms.window_closes_on is not None and today > terms.window_closes_on:
        return [
            RuleFailure(
                "R-ELIG-7",
                f"Le guichet est clos depuis le {terms.window_closes_on:%d/%m/%Y}.",
                None,
            )
        ]
    return []


def check_start_after_request(start_on: date | None, request_day: date) -> list[RuleFailure]:
    """R-ELIG-8: no start before the request (décret 2018-514 art. 3).

    `request_day` is the day the dossier is submitted, or today (Europe/Paris) for a draft's
    report. Starting that very day is admitted. A missing start is R-ELIG-6's failure.
    """
    if start_on is None or start_on >= request_day:
        return []
    return [
        RuleFailure(
            "R-ELIG-8",
            f"Le projet ne peut pas commencer avant le dépôt de la demande : début prévu le "
            f"{start_on:%d/%m/%Y}, demande du {request_day:%d/%m/%Y}.",
            "/start_on",
        )
    ]


def blank(text: str | None) -> bool:
    """A required text is missing when absent or blank once trimmed (R-ELIG-3, titles…)."""
    return text is None or not text.strip()


def check_content(facts: ProjectFacts) -> list[RuleFailure]:
    """R-ELIG-3 (decision-level sponsor), R-ELIG-4 (declared nature), and a complete dossier."""
    failures = []
    if blank(facts.sponsor_name) or blank(facts.sponsor_role):
        failures.append(
            RuleFailure(
                "R-ELIG-3",
                "Un porteur de niveau décisionnel (nom et fonction) doit être désigné.",
                "/sponsor",
            )
        )
    if facts.nature is None:
        failures.append(
            RuleFailure(
                "R-ELIG-4",
                "Le projet doit être déclaré de transformation, d'innovation ou de modernisation.",
                "/nature",
            )
        )
    if blank(facts.title) or blank(facts.description):
        failures.append(
            RuleFailure("required", "Titre et description sont requis.", "/description")
        )
    if not facts.expense_lines:
        failures.append(
            RuleFailure("required", "Au moins une ligne de dépense est requise.", "/expense_lines")
        )
    if facts.requested_cents <= 0:
        failures.append(
            RuleFailure("required", "Le montant demandé doit être positif.", "/requested_cents")
        )
    return failures


def assess(facts: ProjectFacts, terms: ProgrammeTerms, today: date) -> EligibilityReport:
    """The eligibility report of a dossier: every failed rule at once (R-FLOW-2)."""
    cost = eligible_cost(
        facts.expense_lines, terms.extra_eu_licence_share_cap_bps, terms.categories
    )
    cap = funding_cap_cents(cost.eligible_cost_cents, terms.funding_cap_rate_bps)
    grant = max_grant_cents(
        cost.eligible_cost_cents, terms.funding_cap_rate_bps, facts.forfait_cents
    )
    failures = (
        check_content(facts)
        + check_categories([line.category for line in facts.expense_lines], terms.categories)
        + check_licence_origins(facts.expense_lines, terms.categories)
        + check_dates(facts, terms)
        + check_start_after_request(facts.start_on, today)
        + check_window(today, terms)
        + programme_open_problems(terms.status)
        + check_eligible_cost(cost)
        + check_caps(
            requested_cents=facts.requested_cents,
            max_grant=grant,
            total_cost_cents=cost.total_cost_cents,
            other_public_funding_cents=facts.other_public_funding_cents,
            funding_cap=cap,
            forfait=facts.forfait_cents,
            forfait_tier=facts.forfait_tier,
        )
    )
    return EligibilityReport(
        cost=cost,
        funding_cap_cents=cap,
        max_grant_cents=grant,
        forfait_cents=facts.forfait_cents,
        other_public_funding_cents=facts.other_public_funding_cents,
        failures=tuple(failures),
        forfait_tier=facts.forfait_tier if facts.forfait_cents is not None else None,
    )


def euros(cents: int) -> str:
    """French money formatting: 12 345,67 €."""
    whole, part = divmod(cents, 100)
    return f"{whole:,}".replace(",", "\u202f") + f",{part:02d} €"


@dataclass(frozen=True)
class ScoreSummary:
    """R-EVAL-3: what the evaluations of a dossier add up to, as stored on the project row.

    `evaluation_count`/`mean_score_centi`: the prefecture's evaluations that are not recused
    and the mean of their weighted totals in hundredths of a point (0..500, None when none);
    `advisory_count`/`advisory_mean_centi`: ANCT's advisory ones, shown apart, never in the mean.
    """

    evaluation_count: int = 0
    mean_score_centi: int | None = None
    advisory_count: int = 0
    advisory_mean_centi: int | None = None


def centi_text(centi: int | None) -> str | None:
    """A score in hundredths of a point as shown: 345 → "3.45", None stays None."""
    if centi is None:
        return None
    return f"{centi // 100}.{centi % 100:02d}"
