"""allowed_actions never lies on granted dossiers (issue 12): on `accepted` and
`under_convention`, for each role, every action offered is accepted by the server and every
action withheld is refused (R-FLOW-1, R-PAY-1, R-ACL-1).

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
from app.projects.rules import ProjectAction
from tests.api.budgets.conftest import GRANT
from tests.api.budgets.driver import Money, today
from tests.api.projects.test_allowed_actions import BODIES, WHO, attempt
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
    return sent


async def granted_dossier(
    session: AsyncSession, money: Money, marseille: Candidate, status: str
) -> uuid.UUID:
    project = await make_project(session, candidate=marseille, status="in_review")
    await money.commit(project.id, GRANT)
    if status == "under_convention":
        response = await money.convention(project.id)
        assert response.status_code == 200, response.text
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
    probe = await granted_dossier(session, money, marseille, status)
    read = await client.get(f"/api/v1/projects/{probe}", headers=caller)
    assert read.status_code == 200, read.text
    assert read.json()["status"] == status
    offered = read.json()["allowed_actions"]

    for action in ProjectAction:
        project_id = await granted_dossier(session, money, marseille, status)
        response = await attempt(client, caller, project_id, action, body(action))
        if action.value in offered:
            assert response.status_code in (200, 201), (who, status, action, response.text)
        else:
            assert response.status_code in (403, 409), (who, status, action, response.text)
            if response.status_code == 409:
                assert response.json()["allowed_actions"] == offered, (who, status, action)
