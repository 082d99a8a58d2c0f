"""Pure money rules: envelope movements (R-CAP-4), payments (R-PAY-1, R-PAY-2, R-CAP-5)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.core.rules import RuleFailure
from app.projects.rules import BPS, euros


class MovementKind(StrEnum):
    ALLOCATION = "allocation"
    ADJUSTMENT = "adjustment"
    TRANSFER_IN = "transfer_in"
    TRANSFER_OUT = "transfer_out"
    COMMITMENT = "commitment"
    DECOMMITMENT = "decommitment"
    PAYMENT = "payment"


class AllocationKind(StrEnum):
    ALLOCATION = "allocation"
    TOP_UP = "top_up"
    REDUCTION = "reduction"
    TRANSFER = "transfer"


class PaymentKind(StrEnum):
    ADVANCE = "advance"
    INSTALMENT = "instalment"
    BALANCE = "balance"


class ConventionKind(StrEnum):
    CRTE = "crte"  # contrat de relance et de transition écologique
    AD_HOC = "ad_hoc"


def share(amount_cents: int, rate_bps: int) -> int:
    """rate × amount, rounded down to the cent."""
    return (amount_cents * rate_bps) // BPS


@dataclass(frozen=True)
class GrantState:
    amount_cents: int
    paid_cents: int
    advance_paid_cents: int
    final_report: bool


@dataclass(frozen=True)
class PaymentCaps:
    advance_cap_bps: int
    pre_final_payment_cap_bps: int


def check_payment(
    kind: PaymentKind, amount_cents: int, grant: GrantState, caps: PaymentCaps
) -> list[RuleFailure]:
    """R-CAP-5 (never above the grant), R-PAY-1 (advance ≤ 30 %), R-PAY-2 (≤ 80 % before the
    final report; the balance only after it)."""
    failures: list[RuleFailure] = []
    remaining = grant.amount_cents - grant.paid_cents
    if amount_cents > remaining:
        failures.append(
            RuleFailure(
                "R-CAP-5",
                f"Le paiement ({euros(amount_cents)}) dépasse le reste à payer de la subvention "
                f"({euros(remaining)}).",
                "/amount_cents",
            )
        )
    if kind is PaymentKind.ADVANCE:
        cap = share(grant.amount_cents, caps.advance_cap_bps)
        if grant.advance_paid_cents + amount_cents > cap:
            failures.append(
                RuleFailure(
                    "R-PAY-1",
                    f"L'avance est limitée à {caps.advance_cap_bps / 100:g} % de la subvention "
                    f"({euros(cap)}) ; déjà versé en avance : {euros(grant.advance_paid_cents)}.",
                    "/amount_cents",
                )
            )
    if kind in (PaymentKind.ADVANCE, PaymentKind.INSTALMENT):
        if grant.final_report:
            failures.append(
                RuleFailure(
                    "R-PAY-2",
                    "Le rapport final est enregistré : seul le solde peut être versé.",
                    "/kind",
                )
            )
        cap = share(grant.amount_cents, caps.pre_final_payment_cap_bps)
        if grant.paid_cents + amount_cents > cap:
            failures.append(
                RuleFailure(
                    "R-PAY-2",
                    f"Avant le rapport final, avance et acomptes sont limités à "
                    f"{caps.pre_final_payment_cap_bps / 100:g} % de la subvention ({euros(cap)}).",
                    "/amount_cents",
                )
            )
    if kind is PaymentKind.BALANCE and not grant.final_report:
        failures.append(
            RuleFailure(
                "R-PAY-2",
                "Le solde ne peut être versé qu'après l'enregistrement du rapport final.",
                "/kind",
            )
        )
    return failures


def unpaid_part(grant_amount_cents: int, paid_cents: int) -> int:
    """R-CAP-5: what a cancelled (or closed) grant gives back to the envelope."""
    return grant_amount_cents - paid_cents
