"""FITN7 axe 3's expense categories, for the pure rules' tests: the seed's data (the rules take
a programme's categories, R-PROG-1), and its codes by name for readable test lines."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from app.programme.rules import categories
from app.programme.seed import CATEGORIES as SEEDED, STRANDS
from app.projects import cost_rules
from app.projects.cost_rules import EligibleCost, ExpenseLineFacts

CATEGORIES = categories(SEEDED)


class C(StrEnum):
    """The seeded categories' codes (the enum the code had before issue 26)."""

    STUDY = "study"
    CONSULTING = "consulting"
    INTEGRATION = "integration"
    DEVELOPMENT = "development"
    TRAINING = "training"
    SOFTWARE_LICENCE = "software_licence"
    HOSTING = "hosting"
    EQUIPMENT_AGENTS = "equipment_agents"  # excluded (R-EXCL-1)
    OTHER = "other"


assert {c.value for c in C} == {c.code for c in CATEGORIES}


def eligible_cost(lines: Sequence[ExpenseLineFacts], share_cap_bps: int) -> EligibleCost:
    """R-EXCL-1, R-EXCL-2 on FITN7's categories."""
    return cost_rules.eligible_cost(lines, share_cap_bps, CATEGORIES)


# R-EVAL-3: who advises on each of FITN7's strands (its seed: ANCT on the training strand).
ADVISORS = {str(s["code"]): frozenset(s["advisors"]) for s in STRANDS}
