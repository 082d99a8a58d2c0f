"""Pure money rules added by issue 7: a grant at most what was asked (R-CAP-1), plausible dates
and schedules (R-PAY-3 with R-PAY-1, R-PAY-2, R-CAP-5), the envelope's bound and the SCDL
payment conditions. No database, no app."""

from __future__ import annotations

from datetime import date

import pytest

from app.budgets.rules import (
    PaymentCaps,
    PaymentConditions,
    PaymentKind as K,
    ScheduledPayment as S,
    check_allocation_bound,
    check_convention_dates,
    check_event_date,
    check_grant_amount,
    check_payment,
    check_schedule,
    check_schedule_total,
    payment_conditions,
)
from app.core.rules import RuleFailure
from tests.unit.budgets.test_rules import DEFAULT_CAPS, GRANT, grant


def pairs(failures: list[RuleFailure]) -> list[tuple[str, str | None]]:
    return [(f.code, f.field) for f in failures]


# -- R-CAP-1 / R-CAP-3 on the granted amount -------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "requested", "max_grant", "forfait", "cap", "expected"),
    [
        (1_000_000, 1_000_000, 2_000_000, None, 2_000_000, []),
        (2_000_000, 1_000_000, 2_000_000, None, 2_000_000, ["R-CAP-1"]),  # above the request
        (1_000_001, 1_000_000, 2_000_000, None, 2_000_000, ["R-CAP-1"]),
        (2_000_001, 3_000_000, 2_000_000, None, 2_000_000, ["R-CAP-1"]),  # above the cap
        (500_001, 600_000, 500_000, 500_000, 2_000_000, ["R-CAP-3"]),  # the forfait binds
        (500_001, 600_000, 500_000, 500_000, 500_000, ["R-CAP-1"]),  # forfait = cap: the cap
        (500_001, 600_000, 500_000, 500_000, 500_001, ["R-CAP-3"]),
        (500_001, 500_000, 500_000, 500_000, 2_000_000, ["R-CAP-3", "R-CAP-1"]),
        (1, 1, 1, None, 1, []),
        (0, 1_000, 1_000, None, 1_000, ["R-CAP-1"]),
        (-1, 1_000, 1_000, None, 1_000, ["R-CAP-1"]),
    ],
)
def test_r_cap_1_granted_amount(
    amount: int,
    requested: int,
    max_grant: int,
    forfait: int | None,
    cap: int,
    expected: list[str],
) -> None:
    failures = check_grant_amount(
        amount_cents=amount,
        requested_cents=requested,
        max_grant_cents=max_grant,
        forfait_cents=forfait,
        funding_cap_cents=cap,
    )
    assert [f.code for f in failures] == expected
    assert all(f.field == "/amount_cents" and f.message for f in failures)


@pytest.mark.parametrize(
    ("allocated", "added", "bound", "ok"),
    [(0, 10, 10, True), (5, 5, 10, True), (5, 6, 10, False), (10, 1, 10, False)],
)
def test_the_envelope_stays_within_the_contracts_bound(
    allocated: int, added: int, bound: int, ok: bool
) -> None:
    assert check_allocation_bound(allocated, added, bound) is ok


# -- R-PAY-3 --------------------------------------------------------------------------------

DECIDED, TODAY = date(2021, 6, 15), date(2021, 9, 1)


@pytest.mark.parametrize(
    ("signed_on", "expected"),
    [
        (date(1999, 6, 1), [("R-PAY-3", "/signed_on")]),
        (date(2021, 6, 14), [("R-PAY-3", "/signed_on")]),  # the day before the decision
        (date(2021, 6, 15), []),  # the day of the decision
        (date(2021, 9, 1), []),  # today
        (date(2021, 9, 2), [("R-PAY-3", "/signed_on")]),  # tomorrow
    ],
)
def test_r_pay_3_convention_signed_on_or_after_the_decision_not_in_the_future(
    signed_on: date, expected: list[tuple[str, str]]
) -> None:
    failures = check_convention_dates(signed_on, DECIDED, TODAY)
    assert pairs(failures) == expected
    assert all(f.message for f in failures)


@pytest.mark.parametrize(
    ("on", "failed"),
    [
        (date(2099, 1, 1), True),
        (date(2021, 9, 2), True),
        (date(2021, 9, 1), False),
        (date(2021, 7, 1), False),  # the day of the convention
        (date(2021, 6, 30), True),
    ],
)
def test_r_pay_3_a_payment_or_report_is_neither_future_nor_before_the_convention(
    on: date, failed: bool
) -> None:
    failures = check_event_date(
        on, convention_signed_on=date(2021, 7, 1), today=TODAY, field="/paid_on", what="Le paiement"
    )
    assert pairs(failures) == ([("R-PAY-3", "/paid_on")] if failed else [])
    assert all(f.message.startswith("Le paiement") for f in failures)


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ([], []),
        ([S(K.ADVANCE, GRANT)], ["R-PAY-3", "R-PAY-1", "R-PAY-2"]),  # a 100 % advance
        ([S(K.ADVANCE, 300_000), S(K.BALANCE, 700_000)], []),  # at the advance cap
        ([S(K.ADVANCE, 300_001), S(K.BALANCE, 699_999)], ["R-PAY-3", "R-PAY-1"]),
        ([S(K.ADVANCE, 300_000), S(K.INSTALMENT, 500_000), S(K.BALANCE, 200_000)], []),
        ([S(K.ADVANCE, 300_000), S(K.INSTALMENT, 500_001)], ["R-PAY-3", "R-PAY-2"]),
        ([S(K.INSTALMENT, 800_000), S(K.BALANCE, 200_000)], []),
        ([S(K.INSTALMENT, 800_001)], ["R-PAY-3", "R-PAY-2"]),
        ([S(K.BALANCE, GRANT)], []),  # a single payment after the report
        ([S(K.ADVANCE, 150_000), S(K.ADVANCE, 150_001)], ["R-PAY-3", "R-PAY-1"]),
    ],
)
def test_r_pay_3_a_schedule_respects_r_pay_1_and_r_pay_2(
    schedule: list[S], expected: list[str]
) -> None:
    failures = check_schedule(schedule, GRANT, DEFAULT_CAPS)
    assert [f.code for f in failures] == expected
    assert all(f.field == "/schedule" and f.message for f in failures)


def test_r_pay_3_schedule_failures_state_the_rates_and_amounts() -> None:
    failures = check_schedule([S(K.ADVANCE, GRANT)], GRANT, DEFAULT_CAPS)
    assert "30 %" in failures[1].message and "3\u202f000,00 €" in failures[1].message
    assert "80 %" in failures[2].message and "8\u202f000,00 €" in failures[2].message
    [over] = check_schedule_total([S(K.BALANCE, GRANT + 1)], GRANT)
    assert "10\u202f000,01 €" in over.message


def test_r_pay_3_schedule_caps_follow_the_programmes_rates() -> None:
    caps = PaymentCaps(advance_cap_bps=5_000, pre_final_payment_cap_bps=10_000)
    assert check_schedule([S(K.ADVANCE, 500_000), S(K.INSTALMENT, 500_000)], GRANT, caps) == []
    assert [f.code for f in check_schedule([S(K.ADVANCE, 500_001)], GRANT, caps)] == [
        "R-PAY-3",
        "R-PAY-1",
    ]


@pytest.mark.parametrize(("total", "failed"), [(GRANT, False), (GRANT + 1, True), (0, False)])
def test_r_cap_5_a_schedule_never_exceeds_the_grant(total: int, failed: bool) -> None:
    schedule = [S(K.BALANCE, total)] if total else []
    failures = check_schedule_total(schedule, GRANT)
    assert pairs(failures) == ([("R-CAP-5", "/schedule")] if failed else [])


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (0, PaymentConditions.OTHER),
        (1, PaymentConditions.UNIQUE),
        (2, PaymentConditions.STAGGERED),
        (24, PaymentConditions.STAGGERED),
    ],
)
def test_scdl_payment_conditions(count: int, expected: PaymentConditions) -> None:
    assert payment_conditions(count) is expected
    assert [c.value for c in PaymentConditions] == ["unique", "échelonné", "autre"]


# -- check_payment: the boundaries mutation testing found unpinned -------------------------


@pytest.mark.parametrize(
    ("kind", "amount", "state", "expected"),
    [
        (K.ADVANCE, 300_000, grant(), []),
        (K.ADVANCE, 1, grant(paid=300_000, advance=300_000), [("R-PAY-1", "/amount_cents")]),
        (K.INSTALMENT, 1, grant(paid=800_000), [("R-PAY-2", "/amount_cents")]),
        (
            K.INSTALMENT,
            1,
            grant(paid=100, final=True),
            [("R-PAY-2", "/kind")],
        ),
        (K.BALANCE, 1, grant(), [("R-PAY-2", "/kind")]),
        (K.BALANCE, GRANT, grant(final=True), []),
        (K.BALANCE, GRANT + 1, grant(final=True), [("R-CAP-5", "/amount_cents")]),
        (
            K.ADVANCE,
            GRANT + 1,
            grant(),
            [
                ("R-CAP-5", "/amount_cents"),
                ("R-PAY-1", "/amount_cents"),
                ("R-PAY-2", "/amount_cents"),
            ],
        ),
    ],
)
def test_payment_failures_name_rule_and_field(
    kind: K, amount: int, state: object, expected: list[tuple[str, str]]
) -> None:
    failures = check_payment(kind, amount, state, DEFAULT_CAPS)  # type: ignore[arg-type]
    assert pairs(failures) == expected
    assert all(f.message for f in failures)
