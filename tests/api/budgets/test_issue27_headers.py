"""Issue 27, headers a client can follow, on a dossier's grant.

- Every refused payment (409) lists `allowed_actions`, as the README promises for a refused
  transition, payment or final report: the cap refusals (R-PAY-1, R-PAY-2, R-CAP-5) too, not
  only the one for a dossier without convention; a convention whose schedule exceeds the
  grant (R-CAP-5) likewise.
- The final report is a write on the dossier read: it takes `If-Match` (R-FLOW-3: missing 428,
  stale 412) and moves the dossier's ETag on (its offer of actions changes).
- An idempotent replay of a payment carries the first answer's `Location`.
"""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlmodel import col

from app.core.idempotency import IdempotencyRecord
from tests.api.budgets.driver import Money, problem

OPEN_UNDER_CONVENTION = ["payments", "cancel", "final-report"]


async def test_every_refused_payment_lists_the_actions_open_r_pay_1_r_pay_2_r_cap_5(
    money: Money, under_convention: uuid.UUID
) -> None:
    over_advance = problem(await money.pay(under_convention, "advance", 300_001), 409, "R-PAY-1")
    assert over_advance["allowed_actions"] == OPEN_UNDER_CONVENTION
    early_balance = problem(await money.pay(under_convention, "balance", 100), 409, "R-PAY-2")
    assert early_balance["allowed_actions"] == OPEN_UNDER_CONVENTION
    over_grant = problem(await money.pay(under_convention, "instalment", 1_000_001), 409, "R-CAP-5")
    assert over_grant["allowed_actions"] == OPEN_UNDER_CONVENTION
    # once the report is recorded it is no longer offered, and the 409 says so (R-PAY-2)
    assert (await money.final_report(under_convention)).status_code == 200
    again = problem(await money.pay(under_convention, "advance", 1), 409, "R-PAY-2")
    assert again["allowed_actions"] == ["payments", "cancel"]


async def test_a_payment_before_the_convention_lists_the_actions_open_r_flow_1(
    money: Money, granted: uuid.UUID
) -> None:
    body = problem(await money.pay(granted, "advance", 100_000), 409, "R-FLOW-1")
    assert body["allowed_actions"] == ["convention", "cancel"]


async def test_a_schedule_above_the_grant_lists_the_actions_open_r_cap_5(
    money: Money, granted: uuid.UUID
) -> None:
    due = "2022-01-01"
    schedule = [{"label": "Solde", "kind": "balance", "due_on": due, "amount_cents": 1_000_001}]
    body = problem(await money.convention(granted, schedule=schedule), 409, "R-CAP-5")
    assert body["allowed_actions"] == ["convention", "cancel"]


async def test_r_flow_3_the_final_report_takes_the_dossiers_if_match(
    money: Money, under_convention: uuid.UUID
) -> None:
    problem(await money.final_report(under_convention, etag=""), 428, "R-FLOW-3")
    read = await money.etag(under_convention)
    problem(await money.final_report(under_convention, etag='"v1"'), 412, "R-FLOW-3")
    assert (await money.grant(under_convention)).json()["final_report_on"] is None

    report = await money.final_report(under_convention, etag=read)
    assert report.status_code == 200, report.text
    # the dossier changed (no more `final-report` on offer): its ETag moved on
    assert report.headers["ETag"] != read
    assert report.headers["ETag"] == await money.etag(under_convention)
    problem(await money.final_report(under_convention, etag=read), 412, "R-FLOW-3")
    # R-PAY-2: once; the 409 (with the current ETag) lists what remains open
    twice = problem(await money.final_report(under_convention), 409, "R-PAY-2")
    assert twice["allowed_actions"] == ["payments", "cancel"]


async def test_a_replayed_payment_carries_the_first_answers_location(
    money: Money, under_convention: uuid.UUID
) -> None:
    first = await money.pay(under_convention, "advance", 300_000, key="dp-27")
    second = await money.pay(under_convention, "advance", 300_000, key="dp-27")
    assert first.status_code == second.status_code == 201, second.text
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Location"] == first.headers["Location"]
    assert first.headers["Location"] == f"/api/v1/projects/{under_convention}/grant"


async def test_a_record_kept_from_before_its_headers_still_replays_its_location(
    money: Money, under_convention: uuid.UUID
) -> None:
    """Records written before the headers were stored (NULL) say where from their body."""
    first = await money.pay(under_convention, "advance", 300_000, key="dp-old")
    await money.session.execute(
        update(IdempotencyRecord)
        .where(col(IdempotencyRecord.key) == "dp-old")
        .values(response_headers=None)
    )
    await money.session.commit()
    second = await money.pay(under_convention, "advance", 300_000, key="dp-old")
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Location"] == first.headers["Location"]
