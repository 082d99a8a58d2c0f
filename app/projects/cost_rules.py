"""Pure rules of a dossier's eligible cost: which part of each expense line counts.

R-EXCL-1, R-EXCL-2 (eligible cost, licence origin: the programme's categories say which lines
they reach, R-PROG-1), R-EXCL-3 (nothing eligible). Integer cents and basis points only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from app.core.rules import RuleFailure
from app.programme.rules import Category
from app.projects.cap_rules import BPS
from app.projects.display import euros


class VendorOrigin(StrEnum):
    EU = "eu"
    EXTRA_EU = "extra_eu"


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
