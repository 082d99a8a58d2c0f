"""Money rules corrected by issue 7, through the API: a grant never above the request
(R-CAP-1), a forfait for every kind in what a prefect sets (R-CAP-3), plausible dates and
schedules (R-PAY-3), the envelope's bound, the SCDL terms kept on the grant, blank texts."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.schemas import MAX_CENTS
from tests.api.budgets.conftest import ENVELOPE_13, GRANT
from tests.api.budgets.driver import ENVELOPES, Money, count, figures, problem, today
from tests.api.budgets.test_grants import PREFECT_TIERS, expect_refused, put_forfaits
from tests.conftest import Actors
from tests.factories import make_candidate, make_project

AIX_MARSEILLE_METROPOLE_SIREN = "200054807"


def days_from_today(days: int) -> str:
    return (clock.today() + timedelta(days=days)).isoformat()


# -- R-CAP-1 --------------------------------------------------------------------------------


async def test_r_cap_1_the_granted_amount_is_at_most_the_requested_amount(
    money: Money,
    session: AsyncSession,
    envelope_13: dict,
    in_review: uuid.UUID,  # type: ignore[type-arg]
) -> None:
    """20 000 € eligible, 10 000 € requested: 20 000 € granted is refused, 10 000 € is not."""
    refused = await expect_refused(money.commit(in_review, 2_000_000), 409, "R-CAP-1")
    assert "demandé" in refused.detail
    await expect_refused(money.commit(in_review, GRANT + 1), 409, "R-CAP-1")
    assert figures(await money.envelope("13"))[1] == 0
    assert await count(session, "SELECT COUNT(*) FROM project_grant") == 0
    await money.commit(in_review, GRANT)
    assert await money.status(in_review) == "accepted"


# -- R-CAP-3 --------------------------------------------------------------------------------


async def test_r_cap_3_the_metropoles_3a_grant_is_at_most_20_000_euros(
    money: Money,
    session: AsyncSession,
    envelope_13: dict,  # type: ignore[type-arg]
) -> None:
    metropole = await make_candidate(session, siren=AIX_MARSEILLE_METROPOLE_SIREN)
    project = await make_project(
        session,
        candidate=metropole,
        strand="3a",
        lines=[("consulting", 50_000_000)],
        requested_cents=50_000_000,
        status="in_review",
    )
    refused = await expect_refused(money.commit(project.id, 2_000_001), 409, "R-CAP-3")
    assert refused.extensions["max_grant_cents"] == 2_000_000
    await money.commit(project.id, 2_000_000)
    assert await money.status(project.id) == "accepted"


@pytest.mark.parametrize(
    ("tiers", "missing"),
    [
        (PREFECT_TIERS[:3], ["collectivite_outre_mer", "departement", "epci", "public_body"]),
        ([PREFECT_TIERS[0], PREFECT_TIERS[3]], ["commune"]),  # only small communes covered
        ([], ["collectivite_outre_mer", "commune", "departement", "epci", "public_body"]),
    ],
)
async def test_r_cap_3_a_prefects_schedule_covers_every_eligible_kind(
    client: AsyncClient,
    headers,  # type: ignore[no-untyped-def]
    actors: Actors,
    tiers: list[dict[str, Any]],
    missing: list[str],
) -> None:
    body = problem(
        await put_forfaits(client, headers, actors.pref13, '"v0"', tiers), 422, "R-CAP-3"
    )
    named = sorted(m for m in missing)
    assert all(kind in body["detail"] for kind in named), body
    schedule = await client.get(f"{ENVELOPES}/13/forfaits", headers=headers(actors.pref13))
    assert schedule.json()["source"] == "programme"  # nothing was set


async def test_r_cap_3_dinum_cannot_leave_a_kind_without_forfait(
    client: AsyncClient,
    headers,  # type: ignore[no-untyped-def]
    actors: Actors,
) -> None:
    programme = await client.get("/api/v1/programme")
    tiers = [
        {k: v for k, v in t.items() if v is not None} for t in programme.json()["forfaits"][:-1]
    ]
    response = await client.patch(
        "/api/v1/programme",
        json={"forfaits": tiers},
        headers={**headers(actors.dinum), "If-Match": programme.headers["ETag"]},
    )
    problem(response, 422, "R-CAP-3")


# -- R-PAY-3 --------------------------------------------------------------------------------


async def test_r_pay_3_a_convention_signed_before_the_decision_is_refused(
    money: Money, granted: uuid.UUID
) -> None:
    body = problem(await money.convention(granted, signed_on="2000-06-01"), 422, "R-PAY-3")
    assert body["errors"][0]["field"] == "/signed_on"
    problem(await money.convention(granted, signed_on=days_from_today(-1)), 422, "R-PAY-3")
    problem(await money.convention(granted, signed_on=days_from_today(1)), 422, "R-PAY-3")
    assert await money.status(granted) == "accepted"
    assert (await money.convention(granted, signed_on=today())).status_code == 200


@pytest.mark.parametrize(
    ("schedule", "codes"),
    [
        ([("advance", GRANT)], ["R-PAY-3", "R-PAY-1", "R-PAY-2"]),  # a 100 % advance
        ([("advance", 300_001), ("balance", 699_999)], ["R-PAY-3", "R-PAY-1"]),
        ([("advance", 300_000), ("instalment", 500_001)], ["R-PAY-3", "R-PAY-2"]),
        ([("instalment", 800_001), ("balance", 199_999)], ["R-PAY-3", "R-PAY-2"]),
    ],
)
async def test_r_pay_3_a_convention_schedule_respects_r_pay_1_and_r_pay_2(
    money: Money, granted: uuid.UUID, schedule: list[tuple[str, int]], codes: list[str]
) -> None:
    items = [
        {"label": kind, "kind": kind, "due_on": today(), "amount_cents": amount}
        for kind, amount in schedule
    ]
    body = problem(await money.convention(granted, schedule=items), 422, "R-PAY-3")
    assert [e["code"] for e in body["errors"]] == codes
    assert await money.status(granted) == "accepted"


async def test_r_pay_3_a_schedule_at_the_caps_is_accepted(money: Money, granted: uuid.UUID) -> None:
    items = [
        {"label": "Avance", "kind": "advance", "due_on": today(), "amount_cents": 300_000},
        {"label": "Acompte", "kind": "instalment", "due_on": today(), "amount_cents": 500_000},
        {
            "label": "Solde",
            "kind": "balance",
            "due_on": days_from_today(30),
            "amount_cents": 200_000,
        },
    ]
    response = await money.convention(granted, schedule=items)
    assert response.status_code == 200, response.text


async def test_r_pay_3_a_payment_in_the_future_or_before_the_convention_is_refused(
    money: Money, session: AsyncSession, under_convention: uuid.UUID
) -> None:
    for paid_on in ("2099-01-01", days_from_today(1), days_from_today(-1)):
        body = problem(
            await money.pay(under_convention, "advance", 100_000, paid_on=paid_on), 422, "R-PAY-3"
        )
        assert body["errors"][0]["field"] == "/paid_on"
    assert await count(session, "SELECT COUNT(*) FROM payment") == 0
    assert figures(await money.envelope("13"))[2] == 0
    assert (await money.pay(under_convention, "advance", 100_000)).status_code == 201


async def test_r_pay_3_a_final_report_in_the_future_or_before_the_convention_is_refused(
    money: Money, under_convention: uuid.UUID
) -> None:
    for received_on in ("2099-01-01", days_from_today(-1)):
        body = problem(
            await money.final_report(under_convention, received_on=received_on), 422, "R-PAY-3"
        )
        assert body["errors"][0]["field"] == "/received_on"
    grant = (await money.grant(under_convention)).json()
    assert grant["final_report_on"] is None
    assert (await money.final_report(under_convention)).status_code == 200


# -- R-CAP-5: a cancellation after the balance ----------------------------------------------


async def test_r_cap_5_a_settled_grant_cannot_be_cancelled(
    money: Money, session: AsyncSession, under_convention: uuid.UUID
) -> None:
    assert (await money.pay(under_convention, "advance", 300_000)).status_code == 201
    assert (await money.final_report(under_convention)).status_code == 200
    assert (await money.pay(under_convention, "balance", 500_000)).status_code == 201
    problem(await money.cancel(under_convention), 409, "R-FLOW-1")
    grant = (await money.grant(under_convention)).json()
    assert (grant["status"], grant["released_cents"]) == ("closed", 200_000)
    assert figures(await money.envelope("13")) == (
        ENVELOPE_13,
        800_000,
        800_000,
        ENVELOPE_13 - 800_000,
    )


# -- the contract's bound on amounts --------------------------------------------------------


async def test_a_top_up_above_the_contracts_bound_is_refused_before_moving_money(
    money: Money,
    envelope_13: dict,  # type: ignore[type-arg]
) -> None:
    room = MAX_CENTS - ENVELOPE_13
    body = problem(await money.allocate("13", room + 1, kind="top_up"), 422, "amount-bound")
    assert body["errors"][0]["field"] == "/amount_cents"
    assert figures(await money.envelope("13"))[0] == ENVELOPE_13
    assert len(await money.ledger("13")) == 1
    assert (await money.allocate("13", room, kind="top_up")).status_code == 201
    assert figures(await money.envelope("13"))[0] == MAX_CENTS
    problem(await money.allocate("13", 1, kind="top_up"), 422, "amount-bound")


async def test_a_transfer_into_a_full_envelope_is_refused_before_moving_money(
    money: Money,
    envelope_13: dict,  # type: ignore[type-arg]
) -> None:
    assert (await money.allocate("75", MAX_CENTS)).status_code == 201
    response = await money.allocate("13", 1, kind="transfer", to_departement="75")
    problem(response, 422, "amount-bound")
    assert figures(await money.envelope("13"))[0] == ENVELOPE_13
    assert figures(await money.envelope("75"))[0] == MAX_CENTS


# -- SCDL terms kept on the grant (§5) ------------------------------------------------------


async def test_scdl_decision_and_payment_terms_are_reachable_from_the_grant(
    money: Money, granted: uuid.UUID
) -> None:
    before = (await money.grant(granted)).json()
    assert before["decision_reference"] == "Comité du 15/06/2021"
    assert before["decided_on"] == today()
    assert before["convention"] is None
    items = [
        {"label": "Avance", "kind": "advance", "due_on": today(), "amount_cents": 300_000},
        {
            "label": "Solde",
            "kind": "balance",
            "due_on": days_from_today(90),
            "amount_cents": 700_000,
        },
    ]
    assert (await money.convention(granted, schedule=items)).status_code == 200
    convention = (await money.grant(granted)).json()["convention"]
    assert convention["payment_conditions"] == "échelonné"
    assert (convention["payment_period_start"], convention["payment_period_end"]) == (
        today(),
        days_from_today(90),
    )
    assert [i["kind"] for i in convention["schedule"]] == ["advance", "balance"]


@pytest.mark.parametrize(("items", "conditions"), [(1, "unique"), (0, "autre")])
async def test_scdl_payment_conditions_unique_or_other(
    money: Money, granted: uuid.UUID, items: int, conditions: str
) -> None:
    schedule = [
        {"label": "Versement", "kind": "balance", "due_on": today(), "amount_cents": GRANT}
    ][:items]
    assert (await money.convention(granted, schedule=schedule)).status_code == 200
    convention = (await money.grant(granted)).json()["convention"]
    assert convention["payment_conditions"] == conditions
    expected = today() if items else None
    assert (convention["payment_period_start"], convention["payment_period_end"]) == (
        expected,
        expected,
    )


# -- required texts are not blank -----------------------------------------------------------


async def test_blank_texts_of_money_requests_are_refused(
    money: Money, under_convention: uuid.UUID
) -> None:
    problem(await money.cancel(under_convention, reason="   "), 422, "validation-error")
    problem(await money.convention(under_convention, reference=" "), 422, "validation-error")
    problem(await money.allocate("13", 1, kind="top_up", reference="  "), 422, "validation-error")
