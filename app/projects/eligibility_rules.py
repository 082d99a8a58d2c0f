"""Pure rules of a dossier's eligibility: content, dates, the call's window, the full report.

R-ELIG-3..8 (sponsor, nature, dates), the window of the call, and `assess`, which gathers every
failed rule at once (R-FLOW-2) with the cost and cap rules. `today` is passed in.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from app.core.rules import RuleFailure
from app.programme.rules import Category, programme_open_problems
from app.projects.cap_rules import check_caps, funding_cap_cents, max_grant_cents
from app.projects.cost_rules import (
    EligibleCost,
    ExpenseLineFacts,
    check_categories,
    check_eligible_cost,
    check_licence_origins,
    eligible_cost,
)


class Nature(StrEnum):
    """R-ELIG-4 : la nature déclarée du projet."""

    TRANSFORMATION = "transformation"
    INNOVATION = "innovation"
    MODERNISATION = "modernisation"


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
