"""Issue 22 point 7, R-PAY-3 through the API: the balance is not dated before the final report,
the final report not before the project's start (422 naming the field, nothing recorded)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from tests.api.budgets.conftest import GRANT
from tests.api.budgets.driver import Money, problem
from tests.factories import make_project


async def test_r_pay_3_a_balance_dated_before_the_final_report_is_refused(
    money: Money, under_convention: uuid.UUID, clock_at: Callable[[str], object]
) -> None:
    # Convention signed on the suite's first day (15/02/2021); weeks later, the final report
    # of 15/04 recorded: a balance dated 10/04 (after the convention) precedes it.
    assert (await money.pay(under_convention, "advance", 300_000)).status_code == 201
    clock_at("2021-05-03")
    report = await money.final_report(under_convention, received_on="2021-04-15")
    assert report.status_code == 200, report.text
    refused = problem(
        await money.pay(under_convention, "balance", 700_000, paid_on="2021-04-10"),
        422,
        "R-PAY-3",
    )
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("R-PAY-3", "/paid_on")]
    assert "rapport final" in refused["errors"][0]["message"]
    grant = (await money.grant(under_convention)).json()
    assert (grant["paid_cents"], grant["status"]) == (300_000, "active")
    # The day of the final report itself is plausible: the project is paid off.
    paid = await money.pay(under_convention, "balance", 700_000, paid_on="2021-04-15")
    assert paid.status_code == 201, paid.text
    assert await money.status(under_convention) == "completed"


async def test_r_pay_3_a_final_report_dated_before_the_projects_start_is_refused(
    money: Money,
    session: AsyncSession,
    envelope_13: dict,  # type: ignore[type-arg]
    marseille: Candidate,
    clock_at: Callable[[str], object],
) -> None:
    # Granted and under convention on 15/02/2021, the project starting on 01/03/2021.
    project = await make_project(
        session, candidate=marseille, status="in_review", start_on=date(2021, 3, 1)
    )
    await money.commit(project.id, GRANT)
    assert (await money.convention(project.id)).status_code == 200
    clock_at("2021-05-03")
    early = await money.final_report(project.id, received_on="2021-02-20")
    refused = problem(early, 422, "R-PAY-3")
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("R-PAY-3", "/received_on")]
    assert "début du projet" in refused["errors"][0]["message"]
    assert (await money.grant(project.id)).json()["final_report_on"] is None
    # On the day it starts, it is plausible.
    assert (await money.final_report(project.id, received_on="2021-03-01")).status_code == 200
