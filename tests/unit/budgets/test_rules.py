"""Pure money rules at their boundaries: R-PAY-1, R-PAY-2, R-CAP-5 (payments), `share`
rounding, and R-CAP-3 (which forfait applies when a prefect sets its own schedule).
No database, no app."""

from __future__ import annotations

from typing import Any

import pytest

from app.budgets.rules import (
    GrantState,
    PaymentCaps,
    PaymentKind as K,
    check_payment,
    share,
    unpaid_part,
)
from app.programme.rules import select_forfait
from app.programme.seed import DEFAULT_FORFAITS
from app.projects.cap_rules import max_grant_cents

GRANT = 1_000_000  # 10 000 €
DEFAULT_CAPS = PaymentCaps(advance_cap_bps=3_000, pre_final_payment_cap_bps=8_000)


def grant(
    *, paid: int = 0, advance: int = 0, final: bool = False, amount: int = GRANT
) -> GrantState:
    return GrantState(
        amount_cents=amount, paid_cents=paid, advance_paid_cents=advance, final_report=final
    )


def codes(kind: K, amount: int, state: GrantState, caps: PaymentCaps = DEFAULT_CAPS) -> list[str]:
    return [f.code for f in check_payment(kind, amount, state, caps)]


# -- share: rate × amount, rounded down to the cent ----------------------------------------


@pytest.mark.parametrize(
    ("amount", "rate_bps", "expected"),
    [
        (1_000_000, 3_000, 300_000),
        (1_000_000, 8_000, 800_000),
        (333_333, 3_000, 99_999),  # 99 999,9 → 99 999
        (333_333, 8_000, 266_666),  # 266 666,4 → 266 666
        (1, 3_000, 0),  # 0,3 cent → nothing
        (3, 3_333, 0),  # 0,9999 cent → nothing, never rounded up
        (999, 10_000, 999),
        (999, 0, 0),
        (0, 3_000, 0),
        (10**13, 8_000, 8 * 10**12),  # far above any envelope: exact integer arithmetic
    ],
)
def test_share_rounds_down_to_the_cent(amount: int, rate_bps: int, expected: int) -> None:
    assert share(amount, rate_bps) == expected


def test_r_cap_5_unpaid_part_is_what_a_closed_grant_gives_back() -> None:
    assert unpaid_part(1_000_000, 300_000) == 700_000
    assert unpaid_part(1_000_000, 1_000_000) == 0
    assert unpaid_part(1_000_000, 0) == 1_000_000


# -- check_payment: R-PAY-1, R-PAY-2, R-CAP-5 -----------------------------------------------

PAYMENTS: list[Any] = [
    # R-PAY-1: the advance is at most 30 % of the grant
    pytest.param(K.ADVANCE, 300_000, grant(), [], id="advance-exactly-30pct"),
    pytest.param(K.ADVANCE, 300_001, grant(), ["R-PAY-1"], id="advance-one-cent-over-30pct"),
    # R-PAY-1: an advance paid in two parts counts as one
    pytest.param(
        K.ADVANCE, 100_000, grant(paid=200_000, advance=200_000), [], id="advance-2nd-part-to-30"
    ),
    pytest.param(
        K.ADVANCE,
        100_001,
        grant(paid=200_000, advance=200_000),
        ["R-PAY-1"],
        id="advance-2nd-part-crossing-30",
    ),
    pytest.param(
        K.ADVANCE,
        1,
        grant(paid=300_000, advance=300_000),
        ["R-PAY-1"],
        id="advance-after-full-advance",
    ),
    # instalments do not eat into the advance cap (only into the 80 %)
    pytest.param(
        K.ADVANCE, 300_000, grant(paid=400_000, advance=0), [], id="advance-after-instalments"
    ),
    # R-PAY-2: advance + instalments at most 80 % before the final report
    pytest.param(K.INSTALMENT, 800_000, grant(), [], id="instalment-alone-exactly-80pct"),
    pytest.param(K.INSTALMENT, 800_001, grant(), ["R-PAY-2"], id="instalment-alone-over-80pct"),
    pytest.param(
        K.INSTALMENT,
        500_000,
        grant(paid=300_000, advance=300_000),
        [],
        id="advance-plus-instalment-exactly-80pct",
    ),
    pytest.param(
        K.INSTALMENT,
        500_001,
        grant(paid=300_000, advance=300_000),
        ["R-PAY-2"],
        id="advance-plus-instalment-one-cent-over-80pct",
    ),
    pytest.param(
        K.INSTALMENT,
        100_000,
        grant(paid=700_000, advance=300_000),
        [],
        id="advance-plus-instalments-exactly-80pct",
    ),
    pytest.param(
        K.INSTALMENT,
        100_001,
        grant(paid=700_000, advance=300_000),
        ["R-PAY-2"],
        id="advance-plus-instalments-one-cent-over-80pct",
    ),
    # R-PAY-2: once the final report is recorded, only the balance
    pytest.param(
        K.INSTALMENT,
        1,
        grant(paid=300_000, advance=300_000, final=True),
        ["R-PAY-2"],
        id="instalment-after-final-report",
    ),
    pytest.param(K.ADVANCE, 1, grant(final=True), ["R-PAY-2"], id="advance-after-final-report"),
    # R-PAY-2: the balance only after the final report …
    pytest.param(K.BALANCE, 200_000, grant(paid=800_000), ["R-PAY-2"], id="balance-before-report"),
    pytest.param(K.BALANCE, 1, grant(), ["R-PAY-2"], id="balance-before-report-small"),
    # … and then up to the remainder (R-CAP-5), smaller balances allowed
    pytest.param(
        K.BALANCE, 200_000, grant(paid=800_000, final=True), [], id="balance-exactly-remainder"
    ),
    pytest.param(
        K.BALANCE, 50_000, grant(paid=800_000, final=True), [], id="balance-below-remainder"
    ),
    pytest.param(K.BALANCE, GRANT, grant(final=True), [], id="balance-of-whole-grant"),
    pytest.param(
        K.BALANCE,
        200_001,
        grant(paid=800_000, final=True),
        ["R-CAP-5"],
        id="balance-one-cent-over-remainder",
    ),
    # R-CAP-5: never above the remainder, whatever the kind (and named first)
    pytest.param(K.BALANCE, GRANT + 1, grant(final=True), ["R-CAP-5"], id="balance-over-the-grant"),
    pytest.param(
        K.INSTALMENT,
        GRANT + 1,
        grant(),
        ["R-CAP-5", "R-PAY-2"],
        id="instalment-over-the-grant",
    ),
    pytest.param(
        K.ADVANCE,
        GRANT + 1,
        grant(),
        ["R-CAP-5", "R-PAY-1", "R-PAY-2"],
        id="advance-over-the-grant",
    ),
    pytest.param(
        K.BALANCE,
        1,
        grant(paid=GRANT, advance=300_000, final=True),
        ["R-CAP-5"],
        id="anything-once-fully-paid",
    ),
]


@pytest.mark.parametrize(("kind", "amount", "state", "expected"), PAYMENTS)
def test_r_pay_1_r_pay_2_r_cap_5_payment_table(
    kind: K, amount: int, state: GrantState, expected: list[str]
) -> None:
    assert codes(kind, amount, state) == expected


@pytest.mark.parametrize(
    ("kind", "amount", "state", "expected"),
    [
        # 30 % of 3 333,33 € is 999,999 €: the cap is 999,99 €, never rounded up
        pytest.param(K.ADVANCE, 99_999, grant(amount=333_333), [], id="advance-at-rounded-cap"),
        pytest.param(
            K.ADVANCE, 100_000, grant(amount=333_333), ["R-PAY-1"], id="advance-rounded-up"
        ),
        pytest.param(
            K.INSTALMENT, 266_666, grant(amount=333_333), [], id="instalment-at-rounded-cap"
        ),
        pytest.param(
            K.INSTALMENT, 266_667, grant(amount=333_333), ["R-PAY-2"], id="instalment-rounded-up"
        ),
        # a 1-cent grant has no advance at all (30 % of 1 cent rounds to 0)
        pytest.param(K.ADVANCE, 1, grant(amount=1), ["R-PAY-1", "R-PAY-2"], id="one-cent-grant"),
    ],
)
def test_r_pay_1_r_pay_2_caps_round_down(
    kind: K, amount: int, state: GrantState, expected: list[str]
) -> None:
    assert codes(kind, amount, state) == expected


NONE = PaymentCaps(advance_cap_bps=0, pre_final_payment_cap_bps=0)
FULL = PaymentCaps(advance_cap_bps=10_000, pre_final_payment_cap_bps=10_000)


@pytest.mark.parametrize(
    ("caps", "kind", "amount", "state", "expected"),
    [
        # rates of 0 bp: no advance, no instalment, everything as the balance
        pytest.param(NONE, K.ADVANCE, 1, grant(), ["R-PAY-1", "R-PAY-2"], id="0bp-advance"),
        pytest.param(NONE, K.INSTALMENT, 1, grant(), ["R-PAY-2"], id="0bp-instalment"),
        pytest.param(NONE, K.BALANCE, GRANT, grant(final=True), [], id="0bp-balance"),
        # rates of 10 000 bp: the whole grant may be advanced / paid before the report
        pytest.param(FULL, K.ADVANCE, GRANT, grant(), [], id="100pct-advance"),
        pytest.param(FULL, K.INSTALMENT, GRANT, grant(), [], id="100pct-instalment"),
        pytest.param(
            FULL,
            K.ADVANCE,
            GRANT + 1,
            grant(),
            ["R-CAP-5", "R-PAY-1", "R-PAY-2"],
            id="100pct-advance-over-the-grant",
        ),
        pytest.param(
            FULL,
            K.INSTALMENT,
            1,
            grant(paid=GRANT, advance=GRANT),
            ["R-CAP-5", "R-PAY-2"],
            id="100pct-nothing-left",
        ),
        pytest.param(
            FULL, K.BALANCE, 1, grant(paid=999_999), ["R-PAY-2"], id="100pct-balance-still-waits"
        ),
    ],
)
def test_r_pay_1_r_pay_2_configured_rates_at_0_and_10000_bps(
    caps: PaymentCaps, kind: K, amount: int, state: GrantState, expected: list[str]
) -> None:
    assert codes(kind, amount, state, caps) == expected


def test_payment_failures_name_the_field_and_the_amounts() -> None:
    failures = check_payment(K.ADVANCE, 300_001, grant(), DEFAULT_CAPS)
    assert [(f.code, f.field) for f in failures] == [("R-PAY-1", "/amount_cents")]
    assert "30 %" in failures[0].message and "3\u202f000,00 €" in failures[0].message
    (balance,) = check_payment(K.BALANCE, 1, grant(), DEFAULT_CAPS)
    assert (balance.code, balance.field) == ("R-PAY-2", "/kind")
    (over,) = check_payment(K.BALANCE, 200_001, grant(paid=800_000, final=True), DEFAULT_CAPS)
    assert over.field == "/amount_cents" and "2\u202f000,00 €" in over.message
    # R-PAY-2: before the final report, the refusal states the configured share and its amount
    (pre_final,) = check_payment(K.INSTALMENT, 500_001, grant(paid=300_000), DEFAULT_CAPS)
    assert (pre_final.code, pre_final.field) == ("R-PAY-2", "/amount_cents")
    assert "80 %" in pre_final.message and "8\u202f000,00 €" in pre_final.message


# -- select_forfait with a prefect's own schedule (R-CAP-3) -------------------------------

# What a prefect PUTs (as stored: ForfaitTierIn dumped to JSON, absent keys as null). It
# *replaces* the programme's schedule: kinds it does not list get no forfait.
PREFECT_SCHEDULE: list[dict[str, Any]] = [
    {
        "label": "Communes de moins de 5 000 habitants",
        "kinds": ["commune"],
        "epci_types": None,
        "population_below": 5_000,
        "amount_cents": 700_000,
    },
    {
        "label": "Autres communes",
        "kinds": ["commune"],
        "epci_types": None,
        "population_below": None,
        "amount_cents": 1_200_000,
    },
    {
        "label": "Communautés de communes",
        "kinds": ["epci"],
        "epci_types": ["CC"],
        "population_below": None,
        "amount_cents": 1_500_000,
    },
    {
        "label": "Métropoles",
        "kinds": ["epci"],
        "epci_types": ["METRO"],
        "population_below": None,
        "amount_cents": 3_000_000,
    },
    {
        "label": "Région",
        "kinds": ["region"],
        "epci_types": None,
        "population_below": None,
        "amount_cents": 2_500_000,
    },
]


def amount_of(tiers: list[dict[str, Any]], **candidate: Any) -> int | None:
    tier = select_forfait(tiers, **candidate)
    return int(tier["amount_cents"]) if tier is not None else None


@pytest.mark.parametrize(
    ("kind", "population", "epci_type", "programme", "prefect"),
    [
        pytest.param("commune", 4_999, None, 500_000, 700_000, id="commune-4999"),
        pytest.param("commune", 5_000, None, 1_000_000, 1_200_000, id="commune-5000"),
        pytest.param("commune", 1, None, 500_000, 700_000, id="commune-1"),
        pytest.param("commune", None, None, 1_000_000, 1_200_000, id="commune-unknown-pop"),
        pytest.param("epci", 30_000, "CC", 2_000_000, 1_500_000, id="epci-cc"),
        pytest.param("epci", 900_000, "METRO", 2_000_000, 3_000_000, id="epci-metro"),
        pytest.param("epci", 90_000, "CA", 2_000_000, None, id="epci-ca-not-in-prefect"),
        pytest.param("epci", 90_000, None, 2_000_000, None, id="epci-without-type"),
        pytest.param("region", None, None, 2_000_000, 2_500_000, id="region"),
        pytest.param("departement", None, None, 2_000_000, None, id="departement-not-listed"),
        pytest.param("syndicat", 1_000, None, 2_000_000, None, id="syndicat"),
        pytest.param("collectivite_outre_mer", None, None, 2_000_000, None, id="com"),
        pytest.param("public_body", None, None, 2_000_000, None, id="public-body"),
    ],
)
def test_r_cap_3_prefect_schedule_replaces_the_programmes(
    kind: str,
    population: int | None,
    epci_type: str | None,
    programme: int | None,
    prefect: int | None,
) -> None:
    facts = {"kind": kind, "population": population, "epci_type": epci_type}
    assert amount_of(DEFAULT_FORFAITS, **facts) == programme
    assert amount_of(PREFECT_SCHEDULE, **facts) == prefect


def test_r_cap_3_first_matching_line_wins() -> None:
    generic_first = [PREFECT_SCHEDULE[1], PREFECT_SCHEDULE[0]]
    assert amount_of(generic_first, kind="commune", population=100, epci_type=None) == 1_200_000


def test_r_cap_3_no_schedule_means_no_forfait() -> None:
    assert amount_of([], kind="commune", population=100, epci_type=None) is None


@pytest.mark.parametrize(
    ("eligible_cost", "forfait", "expected"),
    [
        pytest.param(2_000_000, 700_000, 700_000, id="forfait-below-cap"),
        pytest.param(500_000, 700_000, 500_000, id="cap-below-forfait"),
        pytest.param(700_000, 700_000, 700_000, id="equal"),
        pytest.param(2_000_000, None, 2_000_000, id="no-forfait-cap-only"),
    ],
)
def test_r_cap_3_grant_is_min_of_forfait_and_r_cap_1_cap(
    eligible_cost: int, forfait: int | None, expected: int
) -> None:
    assert max_grant_cents(eligible_cost, 10_000, forfait) == expected
