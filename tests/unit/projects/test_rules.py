"""Pure rules of projects, at their boundaries: R-EXCL-1, R-EXCL-2, R-CAP-1, R-CAP-2,
R-ELIG-3..7 and R-FLOW-1 (no database, no app)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from app.projects.cap_rules import check_caps, funding_cap_cents, max_grant_cents
from app.projects.cost_rules import (
    ExpenseLineFacts as Line,
    VendorOrigin,
    extra_eu_licence_allowance,
)
from app.projects.eligibility_rules import Nature, ProgrammeTerms, ProjectFacts, add_months, assess
from app.projects.lifecycle_rules import TRANSITIONS, Action, IllegalTransition, Status, next_status
from tests.unit.projects.fitn7 import CATEGORIES, C, eligible_cost

TERMS = ProgrammeTerms(
    window_opens_on=date(2021, 1, 25),
    window_closes_on=None,
    results_deadline=date(2022, 12, 31),
    max_duration_months=24,
    funding_cap_rate_bps=10_000,
    extra_eu_licence_share_cap_bps=1_000,
    categories=CATEGORIES,
)
TODAY = date(2021, 2, 15)  # the window is open; FACTS start ahead of it (R-ELIG-8)


def licence(amount: int, origin: VendorOrigin = VendorOrigin.EXTRA_EU) -> Line:
    return Line(C.SOFTWARE_LICENCE, amount, vendor_origin=origin)


FACTS = ProjectFacts(
    title="Prise de rendez-vous",
    description="Un service en ligne.",
    nature=Nature.MODERNISATION,
    start_on=date(2021, 3, 1),
    end_on=date(2022, 6, 30),
    sponsor_name="Mme la Maire",
    sponsor_role="Maire",
    requested_cents=1_000_000,
    expense_lines=(Line(C.DEVELOPMENT, 2_000_000),),
    other_public_funding_cents=0,
)


def codes(facts: ProjectFacts, terms: ProgrammeTerms = TERMS, today: date = TODAY) -> list[str]:
    return [f.code for f in assess(facts, terms, today).failures]


def test_a_complete_dossier_is_eligible() -> None:
    report = assess(FACTS, TERMS, TODAY)
    assert report.eligible
    assert (report.cost.total_cost_cents, report.cost.eligible_cost_cents) == (2_000_000, 2_000_000)
    assert report.max_grant_cents == 2_000_000


# -- R-EXCL-1 -------------------------------------------------------------------------------


def test_r_excl_1_agents_equipment_is_kept_but_excluded_line_by_line() -> None:
    cost = eligible_cost([Line(C.DEVELOPMENT, 1_000), Line(C.EQUIPMENT_AGENTS, 700)], 1_000)
    assert (cost.total_cost_cents, cost.eligible_cost_cents) == (1_700, 1_000)
    [excluded] = cost.excluded
    assert (excluded.index, excluded.rule, excluded.excluded_cents) == (1, "R-EXCL-1", 700)


def test_r_excl_1_only_agents_equipment_gives_zero_and_cannot_be_submitted() -> None:
    facts = replace(
        FACTS, expense_lines=(Line(C.EQUIPMENT_AGENTS, 500_000),), requested_cents=100_000
    )
    report = assess(facts, TERMS, TODAY)
    assert report.cost.eligible_cost_cents == 0
    assert report.max_grant_cents == 0
    assert "R-CAP-1" in codes(facts)


# -- R-EXCL-2: min(L, floor(s·E/(1−s))) ----------------------------------------------------


@pytest.mark.parametrize(
    ("other", "share_bps", "expected"),
    [
        (900_000, 1_000, 100_000),  # 10 % of 1 000 000 total eligible
        (900_001, 1_000, 100_000),  # floor
        (899_999, 1_000, 99_999),
        (0, 1_000, 0),
        (1_000_000, 0, 0),
        (1_000_000, 5_000, 1_000_000),
    ],
)
def test_r_excl_2_allowance_formula(other: int, share_bps: int, expected: int) -> None:
    assert extra_eu_licence_allowance(other, share_bps) == expected


@pytest.mark.parametrize(
    ("licence_cents", "eligible", "excluded"),
    [
        (100_000, 1_000_000, 0),  # exactly at the share cap: 10 % of the eligible cost
        (100_001, 1_000_000, 1),  # one cent over: that cent is excluded
        (50_000, 950_000, 0),
    ],
)
def test_r_excl_2_extra_eu_licences_at_and_over_the_share_cap(
    licence_cents: int, eligible: int, excluded: int
) -> None:
    cost = eligible_cost([Line(C.DEVELOPMENT, 900_000), licence(licence_cents)], 1_000)
    assert cost.eligible_cost_cents == eligible
    assert sum(o.excluded_cents for o in cost.excluded) == excluded
    assert all(o.rule == "R-EXCL-2" for o in cost.excluded)
    # the share of allowed licences never exceeds s of the eligible cost
    assert (cost.eligible_cost_cents - 900_000) * 10_000 <= 1_000 * cost.eligible_cost_cents


def test_r_excl_2_when_extra_eu_licences_are_the_only_lines_nothing_is_eligible() -> None:
    cost = eligible_cost([licence(300_000), licence(200_000)], 1_000)
    assert cost.eligible_cost_cents == 0
    assert [o.excluded_cents for o in cost.excluded] == [300_000, 200_000]


def test_r_excl_2_eu_licences_are_not_capped_and_allowance_goes_in_line_order() -> None:
    cost = eligible_cost(
        [
            Line(C.DEVELOPMENT, 800_000),
            licence(100_000, VendorOrigin.EU),
            licence(60_000),
            licence(60_000),
        ],
        1_000,
    )
    # E = 900 000 → allowance 100 000: the first licence keeps 60 000, the second 40 000.
    assert [o.eligible_cents for o in cost.lines] == [800_000, 100_000, 60_000, 40_000]
    assert cost.eligible_cost_cents == 1_000_000


def test_r_excl_2_agents_equipment_does_not_count_in_the_base() -> None:
    cost = eligible_cost([Line(C.EQUIPMENT_AGENTS, 900_000), licence(100_000)], 1_000)
    assert cost.eligible_cost_cents == 0


# -- R-CAP-1, R-CAP-2 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("eligible", "rate", "expected"),
    [
        (1_000_000, 10_000, 1_000_000),
        (1_000_000, 0, 0),
        (0, 10_000, 0),
        (999, 5_000, 499),
        (1_000_001, 8_000, 800_000),
    ],
)
def test_r_cap_1_cap_is_eligible_times_rate_rounded_down(
    eligible: int, rate: int, expected: int
) -> None:
    assert funding_cap_cents(eligible, rate) == expected


@pytest.mark.parametrize(("requested", "failed"), [(2_000_000, []), (2_000_001, ["R-CAP-1"])])
def test_r_cap_1_requested_at_cap_and_one_cent_over(requested: int, failed: list[str]) -> None:
    # total cost 2 001 000 (the equipment line is excluded), eligible and cap 2 000 000
    lines = (Line(C.DEVELOPMENT, 2_000_000), Line(C.EQUIPMENT_AGENTS, 1_000))
    assert codes(replace(FACTS, expense_lines=lines, requested_cents=requested)) == failed


def test_r_cap_3_forfait_caps_the_grant_below_the_rate_cap() -> None:
    assert max_grant_cents(2_000_000, 10_000, 500_000) == 500_000
    assert max_grant_cents(300_000, 10_000, 500_000) == 300_000
    facts = replace(FACTS, forfait_cents=500_000, requested_cents=500_001)
    assert codes(facts) == ["R-CAP-3"]  # the forfait binds: R-CAP-3 names it (issue 22)


@pytest.mark.parametrize(("other", "failed"), [(1_000_000, []), (1_000_001, ["R-CAP-2"])])
def test_r_cap_2_other_public_funding_pushing_over_the_cost(other: int, failed: list[str]) -> None:
    # requested 1 000 000 + other ≤ total cost 2 000 000
    assert codes(replace(FACTS, other_public_funding_cents=other)) == failed


def test_r_cap_2_uses_total_cost_including_excluded_lines() -> None:
    failures = check_caps(
        requested_cents=1_000,
        max_grant=1_000,
        total_cost_cents=1_500,
        other_public_funding_cents=500,
    )
    assert failures == []


# -- R-ELIG-3..7 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end_on", "failed"),
    [(date(2022, 12, 31), []), (date(2023, 1, 1), ["R-ELIG-5"])],
)
def test_r_elig_5_results_before_the_deadline(end_on: date, failed: list[str]) -> None:
    facts = replace(FACTS, start_on=date(2021, 6, 1), end_on=end_on)
    assert codes(facts) == failed


@pytest.mark.parametrize(
    ("end_on", "failed"),
    [(date(2023, 3, 1), []), (date(2023, 3, 2), ["R-ELIG-6"])],
)
def test_r_elig_6_twenty_four_months_and_one_day_longer(end_on: date, failed: list[str]) -> None:
    terms = replace(TERMS, results_deadline=date(2030, 1, 1))
    facts = replace(FACTS, start_on=date(2021, 3, 1), end_on=end_on)
    assert codes(facts, terms) == failed


def test_r_elig_6_end_before_start_and_missing_dates() -> None:
    assert codes(replace(FACTS, end_on=date(2021, 2, 1))) == ["R-ELIG-6"]
    assert codes(replace(FACTS, start_on=None)) == ["R-ELIG-6"]


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2021, 1, 31), 1, date(2021, 2, 28)),
        (date(2020, 1, 31), 1, date(2020, 2, 29)),
        (date(2021, 3, 1), 24, date(2023, 3, 1)),
        (date(2021, 11, 15), 2, date(2022, 1, 15)),
    ],
)
def test_add_months_clamps_to_month_end(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("sponsor_name", "sponsor_role", "failed"),
    [("Mme la Maire", "Maire", []), (None, "Maire", ["R-ELIG-3"]), ("X", None, ["R-ELIG-3"])],
)
def test_r_elig_3_decision_level_sponsor(
    sponsor_name: str | None, sponsor_role: str | None, failed: list[str]
) -> None:
    assert codes(replace(FACTS, sponsor_name=sponsor_name, sponsor_role=sponsor_role)) == failed


def test_r_elig_4_declared_nature() -> None:
    assert codes(replace(FACTS, nature=None)) == ["R-ELIG-4"]
    for nature in Nature:
        assert codes(replace(FACTS, nature=nature)) == []


@pytest.mark.parametrize(
    ("today", "closes", "failed"),
    [
        (date(2021, 1, 24), None, ["R-ELIG-7"]),
        (date(2021, 1, 25), None, []),
        (date(2022, 6, 30), date(2022, 6, 30), []),
        (date(2022, 7, 1), date(2022, 6, 30), ["R-ELIG-7"]),
    ],
)
def test_r_elig_7_window_open(today: date, closes: date | None, failed: list[str]) -> None:
    later = replace(FACTS, start_on=date(2022, 7, 1), end_on=date(2022, 12, 31))  # R-ELIG-8 holds
    assert codes(later, replace(TERMS, window_closes_on=closes), today) == failed


def test_r_flow_2_every_failed_rule_is_listed_at_once() -> None:
    facts = replace(
        FACTS,
        sponsor_name=None,
        nature=None,
        end_on=date(2023, 6, 1),
        expense_lines=(Line(C.EQUIPMENT_AGENTS, 10),),
        requested_cents=20,
    )
    assert sorted(set(codes(facts))) == [
        "R-CAP-1",
        "R-CAP-2",
        "R-ELIG-3",
        "R-ELIG-4",
        "R-ELIG-5",
        "R-ELIG-6",
        "R-EXCL-1",
        "R-EXCL-3",
    ]


# -- R-FLOW-1 -------------------------------------------------------------------------------

ALLOWED = {
    (Status.DRAFT, Action.SUBMIT): Status.SUBMITTED,
    (Status.DRAFT, Action.WITHDRAW): Status.WITHDRAWN,
    (Status.SUBMITTED, Action.WITHDRAW): Status.WITHDRAWN,
    (Status.IN_REVIEW, Action.WITHDRAW): Status.WITHDRAWN,
    (Status.SUBMITTED, Action.START_REVIEW): Status.IN_REVIEW,
    (Status.IN_REVIEW, Action.RETURN): Status.DRAFT,
    (Status.IN_REVIEW, Action.CLOSE): Status.CLOSED,
    (Status.IN_REVIEW, Action.ACCEPT): Status.ACCEPTED,
    (Status.IN_REVIEW, Action.REJECT): Status.REJECTED,
    (Status.ACCEPTED, Action.SIGN_CONVENTION): Status.UNDER_CONVENTION,
    (Status.UNDER_CONVENTION, Action.PAY_BALANCE): Status.PAID,
    (Status.PAID, Action.COMPLETE): Status.COMPLETED,
    (Status.ACCEPTED, Action.CANCEL): Status.CANCELLED,
    (Status.UNDER_CONVENTION, Action.CANCEL): Status.CANCELLED,
}


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("action", list(TRANSITIONS))
def test_r_flow_1_every_status_action_pair(status: Status, action: Action) -> None:
    expected = ALLOWED.get((status, action))
    if expected is None:
        with pytest.raises(IllegalTransition) as caught:
            next_status(status, action)
        assert caught.value.current is status
    else:
        assert next_status(status, action) is expected
