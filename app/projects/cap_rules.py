"""Pure rules of a dossier's financing caps: how much may be granted on an eligible cost.

R-CAP-1 (funding cap rate), R-CAP-2 (public funding within the cost), R-CAP-3 (forfaits).
Integer cents and basis points only.
"""

from __future__ import annotations

from app.core.rules import RuleFailure
from app.projects.display import euros

BPS = 10_000


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
