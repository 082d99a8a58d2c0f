"""Boundaries of the project rules that mutation testing found unpinned (issue 7): R-EXCL-2
(origin, share cap of 1 bp and 10 000 bp, 1 cent of other costs), R-EXCL-3, the per-line report,
the report's figures, required texts (R-ELIG-3), R-ELIG-6 (a project ends after it starts),
R-ELIG-7 and a positive requested amount. No database, no app."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from app.core.rules import RuleFailure
from app.projects.cap_rules import check_caps
from app.projects.cost_rules import (
    ExpenseLineFacts as Line,
    LineOutcome,
    VendorOrigin,
    check_eligible_cost,
    check_licence_origins,
    extra_eu_licence_allowance,
)
from app.projects.eligibility_rules import assess, blank, check_content, check_dates, check_window
from app.projects.lifecycle_rules import Action, IllegalTransition, Status, next_status
from tests.unit.projects.fitn7 import CATEGORIES, C, eligible_cost
from tests.unit.projects.test_rules import FACTS, TERMS, TODAY


def pairs(failures: list[RuleFailure]) -> list[tuple[str, str | None]]:
    return [(f.code, f.field) for f in failures]


# -- R-EXCL-2 -------------------------------------------------------------------------------


def test_r_excl_2_a_licence_without_origin_is_capped_like_an_extra_eu_one() -> None:
    """10 000 € of development and a 50 000 € licence: 11 111,11 € eligible either way."""
    lines = [Line(C.DEVELOPMENT, 1_000_000), Line(C.SOFTWARE_LICENCE, 5_000_000, ref="L")]
    unknown = eligible_cost(lines, 1_000)
    stated = eligible_cost(
        [lines[0], replace(lines[1], vendor_origin=VendorOrigin.EXTRA_EU)], 1_000
    )
    eu = eligible_cost([lines[0], replace(lines[1], vendor_origin=VendorOrigin.EU)], 1_000)
    assert unknown.eligible_cost_cents == stated.eligible_cost_cents == 1_111_111
    assert eu.eligible_cost_cents == 6_000_000
    assert unknown.lines[1] == LineOutcome(
        1, "L", 5_000_000, 111_111, 4_888_889, "R-EXCL-2", unknown.lines[1].reason
    )
    assert unknown.lines[1].reason is not None


def test_r_excl_2_every_licence_line_states_its_origin() -> None:
    lines = [
        Line(C.DEVELOPMENT, 100),
        Line(C.SOFTWARE_LICENCE, 10),
        Line(C.SOFTWARE_LICENCE, 10, vendor_origin=VendorOrigin.EU),
        Line(C.SOFTWARE_LICENCE, 10, vendor_origin=VendorOrigin.EXTRA_EU),
        Line(C.HOSTING, 10),
        Line(C.SOFTWARE_LICENCE, 10),
    ]
    assert pairs(check_licence_origins(lines, CATEGORIES)) == [
        ("R-EXCL-2", "/expense_lines/1/vendor_origin"),
        ("R-EXCL-2", "/expense_lines/5/vendor_origin"),
    ]
    facts = replace(FACTS, expense_lines=tuple(lines))
    assert ("R-EXCL-2", "/expense_lines/1/vendor_origin") in pairs(
        list(assess(facts, TERMS, TODAY).failures)
    )


@pytest.mark.parametrize(
    ("other", "share_bps", "expected"),
    [
        (1_000_000, 1, 100),  # 1 bp: floor(1 × 1 000 000 / 9 999) = 100
        (1, 1_000, 0),  # 1 cent of other costs: floor(1 000 / 9 000) = 0
        (9, 1_000, 1),  # floor(9 000 / 9 000) = 1
        (8, 1_000, 0),
        (1, 9_999, 9_999),  # the highest cap the programme accepts
        (0, 1_000, 0),
        (1_000, 0, 0),
        (-9_000, 1_000, 0),  # never negative
        (9_000, -1, 0),
    ],
)
def test_r_excl_2_allowance_at_its_boundaries(other: int, share_bps: int, expected: int) -> None:
    assert extra_eu_licence_allowance(other, share_bps) == expected


@pytest.mark.parametrize("share_bps", [10_000, 10_001])
def test_r_excl_2_a_share_cap_of_100_percent_is_refused_cleanly(share_bps: int) -> None:
    with pytest.raises(ValueError, match="below 100 %"):
        extra_eu_licence_allowance(1, share_bps)


def test_r_excl_2_an_extra_eu_licence_inside_the_allowance_carries_no_rule() -> None:
    cost = eligible_cost([Line(C.DEVELOPMENT, 9_000), licence_line(1_000)], 1_000)
    assert cost.lines[1] == LineOutcome(1, None, 1_000, 1_000, 0, None, None)
    assert cost.excluded == ()
    over = eligible_cost([Line(C.DEVELOPMENT, 9_000), licence_line(1_001)], 1_000)
    assert over.lines[1] == LineOutcome(1, None, 1_001, 1_000, 1, "R-EXCL-2", over.lines[1].reason)


def licence_line(amount: int) -> Line:
    return Line(C.SOFTWARE_LICENCE, amount, vendor_origin=VendorOrigin.EXTRA_EU)


def test_the_per_line_report_gives_index_reference_and_amounts() -> None:
    lines = [
        Line(C.EQUIPMENT_AGENTS, 700, ref="a"),
        Line(C.DEVELOPMENT, 9_000, ref="b"),
        licence_line(2_000),
    ]
    cost = eligible_cost(lines, 1_000)
    assert [
        (o.index, o.ref, o.amount_cents, o.eligible_cents, o.excluded_cents, o.rule)
        for o in cost.lines
    ] == [
        (0, "a", 700, 0, 700, "R-EXCL-1"),
        (1, "b", 9_000, 9_000, 0, None),
        (2, None, 2_000, 1_000, 1_000, "R-EXCL-2"),
    ]
    assert [o.reason is None for o in cost.lines] == [False, True, False]
    assert (cost.total_cost_cents, cost.eligible_cost_cents) == (11_700, 10_000)
    assert [o.index for o in cost.excluded] == [0, 2]


def test_the_report_carries_its_figures() -> None:
    facts = replace(FACTS, forfait_cents=500_000, other_public_funding_cents=12_345)
    report = assess(facts, replace(TERMS, funding_cap_rate_bps=8_000), TODAY)
    assert report.funding_cap_cents == 1_600_000  # 80 % of 20 000 €
    assert report.max_grant_cents == 500_000
    assert report.forfait_cents == 500_000
    assert report.other_public_funding_cents == 12_345
    assert report.cost.eligible_cost_cents == 2_000_000


# -- R-EXCL-3 -------------------------------------------------------------------------------


def test_r_excl_3_names_each_exclusion_then_the_cap() -> None:
    facts = replace(
        FACTS,
        expense_lines=(Line(C.EQUIPMENT_AGENTS, 60_000), licence_line(5_000)),
        requested_cents=60_000,
    )
    failures = pairs(list(assess(facts, TERMS, TODAY).failures))
    assert failures == [
        ("R-EXCL-3", "/expense_lines"),
        ("R-EXCL-1", "/expense_lines/0"),
        ("R-EXCL-2", "/expense_lines/1"),
        ("R-CAP-1", "/requested_cents"),
    ]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ((), []),  # no line at all is "required", not R-EXCL-3
        ((Line(C.DEVELOPMENT, 1),), []),  # 1 cent eligible
        ((Line(C.DEVELOPMENT, 0),), [("R-EXCL-3", "/expense_lines")]),
        (
            (Line(C.DEVELOPMENT, 0), Line(C.EQUIPMENT_AGENTS, 5)),
            [("R-EXCL-3", "/expense_lines"), ("R-EXCL-1", "/expense_lines/1")],
        ),
    ],
)
def test_r_excl_3_only_when_nothing_is_eligible(
    lines: tuple[Line, ...], expected: list[tuple[str, str]]
) -> None:
    assert pairs(check_eligible_cost(eligible_cost(lines, 1_000))) == expected


# -- required content -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, []),
        ({"sponsor_name": None}, [("R-ELIG-3", "/sponsor")]),
        ({"sponsor_role": ""}, [("R-ELIG-3", "/sponsor")]),
        ({"sponsor_name": " ", "sponsor_role": "\t"}, [("R-ELIG-3", "/sponsor")]),
        ({"nature": None}, [("R-ELIG-4", "/nature")]),
        ({"title": " "}, [("required", "/description")]),
        ({"description": None}, [("required", "/description")]),
        ({"title": "", "description": "\n"}, [("required", "/description")]),
        ({"expense_lines": ()}, [("required", "/expense_lines")]),
        ({"requested_cents": 0}, [("required", "/requested_cents")]),
        ({"requested_cents": -1}, [("required", "/requested_cents")]),
        ({"requested_cents": 1}, []),
        (
            {
                "sponsor_name": None,
                "nature": None,
                "title": None,
                "expense_lines": (),
                "requested_cents": 0,
            },
            [
                ("R-ELIG-3", "/sponsor"),
                ("R-ELIG-4", "/nature"),
                ("required", "/description"),
                ("required", "/expense_lines"),
                ("required", "/requested_cents"),
            ],
        ),
    ],
)
def test_check_content_required_fields(
    changes: dict[str, object], expected: list[tuple[str, str]]
) -> None:
    assert pairs(check_content(replace(FACTS, **changes))) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "is_blank"), [(None, True), ("", True), (" \t\n", True), (" a ", False), ("a", False)]
)
def test_blank_means_absent_or_only_whitespace(text: str | None, is_blank: bool) -> None:
    assert blank(text) is is_blank


# -- dates and window -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start_on", "end_on", "expected"),
    [
        (date(2021, 3, 1), date(2021, 3, 1), [("R-ELIG-6", "/end_on")]),  # ends the day it starts
        (date(2021, 3, 1), date(2021, 3, 2), []),
        (date(2021, 3, 2), date(2021, 3, 1), [("R-ELIG-6", "/end_on")]),
        (None, date(2021, 3, 1), [("R-ELIG-6", "/start_on")]),
        (date(2021, 3, 1), None, [("R-ELIG-6", "/end_on")]),
        (None, None, [("R-ELIG-6", "/start_on")]),
        (date(2021, 3, 1), date(2022, 12, 31), []),
        (date(2021, 3, 1), date(2023, 3, 2), [("R-ELIG-5", "/end_on"), ("R-ELIG-6", "/end_on")]),
        (date(2021, 1, 1), date(2023, 1, 1), [("R-ELIG-5", "/end_on")]),
    ],
)
def test_r_elig_5_r_elig_6_dates(
    start_on: date | None, end_on: date | None, expected: list[tuple[str, str]]
) -> None:
    facts = replace(FACTS, start_on=start_on, end_on=end_on)
    assert pairs(check_dates(facts, TERMS)) == expected


@pytest.mark.parametrize(
    ("today", "closes", "failed"),
    [
        (date(2021, 1, 24), None, True),
        (date(2021, 1, 25), None, False),
        (date(2021, 6, 30), date(2021, 6, 30), False),
        (date(2021, 7, 1), date(2021, 6, 30), True),
        (date(2021, 1, 24), date(2021, 6, 30), True),
    ],
)
def test_r_elig_7_window_boundaries(today: date, closes: date | None, failed: bool) -> None:
    failures = check_window(today, replace(TERMS, window_closes_on=closes))
    assert pairs(failures) == ([("R-ELIG-7", None)] if failed else [])
    assert all(f.message for f in failures)


# -- R-FLOW-1 -------------------------------------------------------------------------------


def test_r_flow_1_an_illegal_transition_names_both_states() -> None:
    with pytest.raises(IllegalTransition) as caught:
        next_status(Status.DRAFT, Action.ACCEPT)
    assert (caught.value.current, caught.value.action, caught.value.target) == (
        Status.DRAFT,
        Action.ACCEPT,
        Status.ACCEPTED,
    )
    assert str(caught.value) == "draft -/-> accepted"


def test_r_cap_1_r_cap_2_failures_point_at_their_fields() -> None:
    failures = check_caps(
        requested_cents=101, max_grant=100, total_cost_cents=150, other_public_funding_cents=50
    )
    assert pairs(failures) == [("R-CAP-1", "/requested_cents"), ("R-CAP-2", "/other_funding")]
    assert "1,01 €" in failures[0].message and "1,50 €" in failures[1].message


def test_r_cap_2_points_at_the_request_when_it_alone_exceeds_the_cost() -> None:
    """Issue 27: the excess comes from the request (151 > 150), not from the other funding."""
    failures = check_caps(
        requested_cents=151, max_grant=1_000, total_cost_cents=150, other_public_funding_cents=0
    )
    assert pairs(failures) == [("R-CAP-2", "/requested_cents")]
    assert "à lui seul" in failures[0].message
