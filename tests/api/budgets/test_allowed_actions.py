"""allowed_actions never lies on granted dossiers (issue 12): on `accepted` and
`under_convention`, for each role, every action offered is accepted by the server and every
action withheld is refused (R-FLOW-1, R-PAY-1, R-PAY-2, R-EVAL-2, R-ACL-1): `final-report` is
offered to the prefect under convention until the report is recorded (R-PAY-2: once), never
before the convention; `evaluate` never on a decided dossier (R-EVAL-2).

The dossiers are granted for real (a committee's commitment on the 13's envelope), so the
budgets routes judge them as they would in production.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from app.core import clock
from app.programme.rules import Step
from app.projects.lifecycle_rules import ProjectAction
from tests.api.budgets.conftest import GRANT
from tests.api.budgets.driver import Money, today
from tests.api.projects.test_allowed_actions import BODIES, WHO, attempt, judge, read_offer
from tests.conftest import Actors
from tests.factories import make_project


def body(action: ProjectAction) -> dict[str, Any] | None:
    """The action's body, dated today by the service's clock (R-PAY-3)."""
    sent = BODIES[action]
    if action is ProjectAction.CONVENTION:
        return {
            **BODIES[action],  # type: ignore[dict-item]
            "signed_on": today(),
            "schedule": [
                {"label": "Avance", "kind": "advance", "due_on": today(), "amount_cents": 300_000},
                {"label": "Solde", "kind": "balance", "due_on": today(), "amount_cents": 700_000},
            ],
        }
    if action is ProjectAction.PAYMENTS:
        return {**BODIES[action], "paid_on": today()}  # type: ignore[dict-item]
    if action is ProjectAction.FINAL_REPORT:  # R-PAY-3: not before the convention, nor later
        return {**BODIES[action], "received_on": today()}  # type: ignore[dict-item]
    return sent


async def granted_dossier(
    session: AsyncSession, money: Money, marseille: Candidate, status: str
) -> uuid.UUID:
    project = await make_project(  # a final report today is not before its start (R-PAY-3)
        session, candidate=marseille, status="in_review", start_on=clock.today()
    )
    await money.commit(project.id, GRANT)
    # R-DOC-1: the documents of its next step filed, as an offered action must succeed
    await money.file_documents(project.id, Step.CONVENTION)
    if status == "under_convention":
        response = await money.convention(project.id)
        assert response.status_code == 200, response.text
        await money.file_documents(project.id, Step.FINAL_REPORT)
    return project.id


@pytest.mark.parametrize("status", ["accepted", "under_convention"])
@pytest.mark.parametrize("who", WHO)
async def test_allowed_actions_on_a_granted_dossier_are_what_the_server_accepts(
    client: AsyncClient,
    session: AsyncSession,
    actors: Actors,
    headers,  # type: ignore[no-untyped-def]
    money: Money,
    envelope_13: dict,  # type: ignore[type-arg]
    marseille: Candidate,
    aix: Candidate,
    who: str,
    status: str,
) -> None:
    caller = headers(getattr(actors, who))
    # one grant per action tried, and the probe's: top the envelope up to cover them all
    top_up = await money.allocate("13", GRANT * (len(ProjectAction) + 1), kind="top_up")
    assert top_up.status_code == 201, top_up.text
    probe = await granted_dossier(session, money, marseille, status)
    offered = await read_offer(client, caller, probe, status)

    for action in ProjectAction:
        project_id = await granted_dossier(session, money, marseille, status)
        response = await attempt(client, caller, project_id, action, body(action))
        judge(response, offered, action, who, status)


async def test_final_report_is_offered_until_it_is_recorded_r_pay_2(
    client: AsyncClient,
    session: AsyncSession,
    actors: Actors,
    headers,  # type: ignore[no-untyped-def]
    money: Money,
    envelope_13: dict,  # type: ignore[type-arg]
    marseille: Candidate,
    aix: Candidate,
) -> None:
    caller = headers(actors.pref13)
    accepted = await granted_dossier(session, money, marseille, "accepted")
    # R-FLOW-1: the final report follows the convention
    assert "final-report" not in await read_offer(client, caller, accepted, "accepted")

    project_id = await granted_dossier(session, money, marseille, "under_convention")
    before = await read_offer(client, caller, project_id, "under_convention")
    assert before == ["payments", "cancel", "final-report"]
    report = ProjectAction.FINAL_REPORT
    judge(await money.final_report(project_id), before, report)

    # R-PAY-2: once per grant, so no longer offered (read and list say the same)
    after = await read_offer(client, caller, project_id, "under_convention")
    assert after == ["payments", "cancel"]
    again = await money.final_report(project_id)
    judge(again, after, report)
    assert (again.status_code, again.json()["code"]) == (409, "R-PAY-2")
