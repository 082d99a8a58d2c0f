"""Pure money rules: envelope movements (R-CAP-4), grants (R-CAP-1), payments (R-PAY-1,
R-PAY-2, R-PAY-3, R-CAP-5). `today` is passed in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from app.core.rules import RuleFailure
from app.projects.cap_rules import BPS, forfait_binds
from app.projects.display import euros
from app.projects.lifecycle_rules import ProjectAction, Status, state_allows


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


def check_grant_amount(
    *,
    amount_cents: int,
    requested_cents: int,
    max_grant_cents: int,
    forfait_cents: int | None,
    funding_cap_cents: int,
) -> list[RuleFailure]:
    """R-CAP-1: the granted amount is positive, ≤ the dossier's maximum grant (R-CAP-3 names
    the refusal when the forfait is the limit that binds) and ≤ the amount requested."""
    if amount_cents <= 0:
        return [RuleFailure("R-CAP-1", "Le montant accordé doit être positif.", "/amount_cents")]
    failures = []
    if amount_cents > max_grant_cents:
        binding_forfait = forfait_binds(forfait_cents, funding_cap_cents)
        failures.append(
            RuleFailure(
                "R-CAP-3" if binding_forfait else "R-CAP-1",
                f"Montant accordé ({euros(amount_cents)}) supérieur au plafond du dossier "
                f"({euros(max_grant_cents)}).",
                "/amount_cents",
            )
        )
    if amount_cents > requested_cents:
        failures.append(
            RuleFailure(
                "R-CAP-1",
                f"Montant accordé ({euros(amount_cents)}) supérieur au montant demandé "
                f"({euros(requested_cents)}).",
                "/amount_cents",
            )
        )
    return failures


def check_allocation_bound(allocated_cents: int, added_cents: int, bound_cents: int) -> bool:
    """An envelope's allocation stays within the contract's bound on amounts."""
    return allocated_cents + added_cents <= bound_cents


# -- R-PAY-3: plausible dates, and a convention schedule within R-PAY-1 / R-PAY-2 -------------


def check_convention_dates(signed_on: date, decided_on: date, today: date) -> list[RuleFailure]:
    """R-PAY-3: a convention is signed on or after the decision, and not in the future."""
    if signed_on < decided_on:
        return [
            RuleFailure(
                "R-PAY-3",
                f"La convention ne peut pas être signée le {signed_on:%d/%m/%Y}, avant la "
                f"décision d'attribution du {decided_on:%d/%m/%Y}.",
                "/signed_on",
            )
        ]
    if signed_on > today:
        return [
            RuleFailure(
                "R-PAY-3",
                f"La date de signature ({signed_on:%d/%m/%Y}) est dans le futur.",
                "/signed_on",
            )
        ]
    return []


def check_event_date(
    on: date, *, convention_signed_on: date, today: date, field: str, what: str
) -> list[RuleFailure]:
    """R-PAY-3: a payment or a final report is dated neither in the future nor before the
    convention."""
    if on > today:
        return [
            RuleFailure("R-PAY-3", f"{what} ne peut pas être daté du futur ({on:%d/%m/%Y}).", field)
        ]
    if on < convention_signed_on:
        return [
            RuleFailure(
                "R-PAY-3",
                f"{what} ({on:%d/%m/%Y}) ne peut pas précéder la convention signée le "
                f"{convention_signed_on:%d/%m/%Y}.",
                field,
            )
        ]
    return []


def check_not_before(
    on: date, earliest: date | None, *, field: str, what: str, earliest_what: str
) -> list[RuleFailure]:
    """R-PAY-3: the balance is not dated before the final report, the final report not before
    the project's start (`earliest`: that date, None when there is none)."""
    if earliest is None or on >= earliest:
        return []
    return [
        RuleFailure(
            "R-PAY-3",
            f"{what} ({on:%d/%m/%Y}) ne peut pas précéder {earliest_what} ({earliest:%d/%m/%Y}).",
            field,
        )
    ]


@dataclass(frozen=True)
class ScheduledPayment:
    kind: PaymentKind
    amount_cents: int


def check_schedule(
    schedule: Sequence[ScheduledPayment], grant_amount_cents: int, caps: PaymentCaps
) -> list[RuleFailure]:
    """R-PAY-3: a convention's schedule respects R-PAY-1 (advance ≤ 30 %) and R-PAY-2 (advance
    and instalments ≤ 80 % before the final report)."""
    caps_failures: list[RuleFailure] = []
    advance = sum(i.amount_cents for i in schedule if i.kind is PaymentKind.ADVANCE)
    advance_cap = share(grant_amount_cents, caps.advance_cap_bps)
    if advance > advance_cap:
        caps_failures.append(
            RuleFailure(
                "R-PAY-1",
                f"L'avance prévue ({euros(advance)}) dépasse "
                f"{caps.advance_cap_bps / 100:g} % de la subvention ({euros(advance_cap)}).",
                "/schedule",
            )
        )
    before_report = sum(i.amount_cents for i in schedule if i.kind is not PaymentKind.BALANCE)
    pre_final_cap = share(grant_amount_cents, caps.pre_final_payment_cap_bps)
    if before_report > pre_final_cap:
        caps_failures.append(
            RuleFailure(
                "R-PAY-2",
                f"Avance et acomptes prévus ({euros(before_report)}) dépassent "
                f"{caps.pre_final_payment_cap_bps / 100:g} % de la subvention "
                f"({euros(pre_final_cap)}) avant le rapport final.",
                "/schedule",
            )
        )
    if not caps_failures:
        return []
    return [
        RuleFailure(
            "R-PAY-3",
            "L'échéancier de la convention ne respecte pas les plafonds de versement.",
            "/schedule",
        ),
        *caps_failures,
    ]


def check_schedule_total(
    schedule: Sequence[ScheduledPayment], grant_amount_cents: int
) -> list[RuleFailure]:
    """R-CAP-5: a convention's schedule never exceeds the grant."""
    scheduled = sum(item.amount_cents for item in schedule)
    if scheduled <= grant_amount_cents:
        return []
    return [
        RuleFailure(
            "R-CAP-5",
            f"L'échéancier ({euros(scheduled)}) dépasse la subvention "
            f"({euros(grant_amount_cents)}).",
            "/schedule",
        )
    ]


class PaymentConditions(StrEnum):
    """SCDL 2.1.1 `conditionsVersement`."""

    UNIQUE = "unique"
    STAGGERED = "échelonné"
    OTHER = "autre"


def payment_conditions(scheduled_payments: int) -> PaymentConditions:
    """SCDL: one scheduled payment is `unique`, several `échelonné`, none stated `autre`."""
    if scheduled_payments == 0:
        return PaymentConditions.OTHER
    return PaymentConditions.UNIQUE if scheduled_payments == 1 else PaymentConditions.STAGGERED


ACTIVE = "active"  # a grant neither cancelled nor settled (R-CAP-5)


def final_report_state_failure(status: Status) -> RuleFailure | None:
    """R-FLOW-1 (REPORTABLE): the final report follows a signed convention."""
    if state_allows(status, ProjectAction.FINAL_REPORT):
        return None
    return RuleFailure(
        "R-FLOW-1", f"Le rapport final suit la convention (état du dossier : {status.value})."
    )


def final_report_grant_failure(grant_status: str | None, *, recorded: bool) -> RuleFailure | None:
    """R-FLOW-1: the grant is still active (not cancelled, not settled); R-PAY-2: one final
    report per grant. `grant_status` is None when the dossier has no grant."""
    if grant_status != ACTIVE:
        return RuleFailure(
            "R-FLOW-1", f"La subvention n'est plus active (état : {grant_status or 'aucune'})."
        )
    if recorded:
        return RuleFailure("R-PAY-2", "Le rapport final est déjà enregistré.")
    return None


def final_report_refusal(
    status: Status, *, grant_status: str | None, recorded: bool
) -> RuleFailure | None:
    """Whether the final report of this dossier may be recorded now (R-FLOW-1, R-PAY-2): the
    first rule that refuses it, or None. The service runs its two halves in this order (the
    grant's lock between them); `allowed_actions` offers `final-report` when it is None."""
    return final_report_state_failure(status) or final_report_grant_failure(
        grant_status, recorded=recorded
    )
