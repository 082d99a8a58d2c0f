"""R-CAP-3 at submission (issue 22): a request above min(forfait, R-CAP-1 cap) fails as
R-CAP-3, naming the forfait and its tier, when the forfait binds; as R-CAP-1 when the cap
does. Pure rules, no DB."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.core.rules import RuleFailure
from app.projects.cap_rules import check_caps
from app.projects.cost_rules import (
    EligibleCost,
    ExpenseLineFacts as Line,
    LineOutcome,
    check_eligible_cost,
    check_licence_origins,
)
from app.projects.eligibility_rules import assess
from tests.unit.projects.fitn7 import CATEGORIES, C
from tests.unit.projects.test_rules import FACTS, TERMS, TODAY

TIER = "Communes de moins de 5 000 habitants"


@pytest.mark.parametrize(
    ("eligible", "forfait", "requested", "expected"),
    [
        (2_000_000, 500_000, 1_000_000, ["R-CAP-3"]),  # the forfait binds
        (2_000_000, 500_000, 500_001, ["R-CAP-3"]),
        (2_000_000, 500_000, 500_000, []),  # up to the forfait: eligible in full
        (300_000, 500_000, 300_001, ["R-CAP-1"]),  # the cap (3 000 €) binds
        (500_000, 500_000, 500_001, ["R-CAP-1"]),  # equal: the cap names it, as at decision
        (2_000_000, None, 2_000_001, ["R-CAP-1"]),  # no forfait
    ],
)
def test_r_cap_3_names_the_binding_ceiling(
    eligible: int, forfait: int | None, requested: int, expected: list[str]
) -> None:
    facts = replace(
        FACTS,
        expense_lines=(Line(C.DEVELOPMENT, eligible),),
        other_public_funding_cents=0,
        requested_cents=requested,
        forfait_cents=forfait,
        forfait_tier=TIER if forfait is not None else None,
    )
    failures = [f for f in assess(facts, TERMS, TODAY).failures if f.code != "R-CAP-2"]
    assert [(f.code, f.field) for f in failures] == [(c, "/requested_cents") for c in expected]
    if expected == ["R-CAP-3"]:
        assert f"« {TIER} »" in failures[0].message and "5\u202f000,00 €" in failures[0].message


def test_r_cap_3_the_report_names_the_tier_only_with_a_forfait() -> None:
    with_forfait = replace(FACTS, requested_cents=500_000, forfait_cents=500_000, forfait_tier=TIER)
    assert assess(with_forfait, TERMS, TODAY).forfait_tier == TIER
    assert assess(replace(FACTS, forfait_tier=TIER), TERMS, TODAY).forfait_tier is None


def test_r_cap_3_message_names_a_tier_only_when_there_is_one() -> None:
    """R-CAP-3 with a forfait whose tier is unknown states the forfait alone: no empty or
    "None" tier in the sentence (mutation testing, issue 22 point 10)."""

    def failures(tier: str | None) -> list[RuleFailure]:
        return check_caps(
            requested_cents=500_001,
            max_grant=500_000,
            total_cost_cents=2_000_000,
            other_public_funding_cents=0,
            funding_cap=1_000_000,
            forfait=500_000,
            forfait_tier=tier,
        )

    (untiered,) = failures(None)
    assert untiered.code == "R-CAP-3"
    assert "(5\u202f000,00 €) :" in untiered.message and "palier" not in untiered.message
    (tiered,) = failures(TIER)
    assert f"(5\u202f000,00 € du palier « {TIER} ») :" in tiered.message


def test_r_excl_3_and_r_excl_2_messages_number_lines_from_one() -> None:
    """The refusals name a line by its number as shown (index + 1), with the amount excluded
    and the label, or "licence" when it has none (mutation testing, issue 22 point 10)."""
    cost = EligibleCost(
        total_cost_cents=200,
        eligible_cost_cents=0,
        lines=(
            LineOutcome(0, None, 100, 0, 100, "R-EXCL-1", "équipement"),
            LineOutcome(1, None, 100, 0, 100, "R-EXCL-2", "hors UE"),
        ),
    )
    messages = [(f.code, f.field, f.message) for f in check_eligible_cost(cost)[1:]]
    assert messages == [
        ("R-EXCL-1", "/expense_lines/0", "Ligne 1 exclue (1,00 €) : équipement"),
        ("R-EXCL-2", "/expense_lines/1", "Ligne 2 exclue (1,00 €) : hors UE"),
    ]
    licences = [Line(C.SOFTWARE_LICENCE, 100), Line(C.SOFTWARE_LICENCE, 100, label="SIG")]
    starts = [f.message.split(" : ")[0] for f in check_licence_origins(licences, CATEGORIES)]
    assert starts == ["Ligne 1 (licence)", "Ligne 2 (SIG)"]
