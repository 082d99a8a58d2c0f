"""Issue 8 item 6, dates in bodies: a convention's signature and schedule, a payment and a final
report are dated between 2000-01-01 and 2100-12-31 (422 naming the field, nothing recorded)."""

from __future__ import annotations

import uuid

import pytest

from tests.api.budgets.driver import PROJECTS, Money


def refused_fields(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {e["field"]: e["code"] for e in response.json()["errors"]}


@pytest.mark.parametrize("signed_on", ["1999-12-31", "9999-12-31"])
async def test_a_convention_signed_outside_the_range_is_refused(
    money: Money, granted: uuid.UUID, signed_on: str
) -> None:
    response = await money.client.post(
        f"{PROJECTS}/{granted}/convention",
        json={"reference": "CONV-1", "kind": "crte", "signed_on": signed_on},
        headers={**money.headers(money.actors.pref13), "If-Match": await money.etag(granted)},
    )
    assert refused_fields(response) == {"/signed_on": "date_out_of_range"}
    assert await money.status(granted) == "accepted"


async def test_a_schedule_item_due_outside_the_range_is_refused(
    money: Money, granted: uuid.UUID
) -> None:
    schedule = [
        {"kind": "advance", "label": "Avance", "due_on": "2021-10-01", "amount_cents": 300_000},
        {"kind": "balance", "label": "Solde", "due_on": "2101-01-01", "amount_cents": 700_000},
    ]
    response = await money.convention(granted, schedule=schedule)
    assert refused_fields(response) == {"/schedule/1/due_on": "date_out_of_range"}
    assert await money.status(granted) == "accepted"


@pytest.mark.parametrize("paid_on", ["0001-01-01", "2101-01-01"])
async def test_a_payment_dated_outside_the_range_is_refused(
    money: Money, under_convention: uuid.UUID, paid_on: str
) -> None:
    response = await money.pay(under_convention, "advance", 100_000, paid_on=paid_on)
    assert refused_fields(response) == {"/paid_on": "date_out_of_range"}
    grant = await money.client.get(
        f"{PROJECTS}/{under_convention}/grant", headers=money.headers(money.actors.pref13)
    )
    assert grant.json()["paid_cents"] == 0


async def test_a_final_report_received_outside_the_range_is_refused(
    money: Money, under_convention: uuid.UUID
) -> None:
    response = await money.client.post(
        f"{PROJECTS}/{under_convention}/final-report",
        json={"received_on": "9999-12-31", "summary": "Service ouvert."},
        headers={
            **money.headers(money.actors.pref13),
            "If-Match": await money.etag(under_convention),
        },
    )
    assert refused_fields(response) == {"/received_on": "date_out_of_range"}
    grant = await money.client.get(
        f"{PROJECTS}/{under_convention}/grant", headers=money.headers(money.actors.pref13)
    )
    assert grant.json()["final_report_on"] is None
