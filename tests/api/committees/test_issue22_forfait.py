"""Issue 22 point 8, R-CAP-3 through the API: a request above a binding forfait is refused at
submission as R-CAP-3, naming the forfait and its tier (R-CAP-1 when the funding cap binds);
the committee may grant below the request."""

from __future__ import annotations

import uuid
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, Role
from app.core import clock
from tests.api.budgets.driver import Money, problem
from tests.api.committees.driver import Committees
from tests.api.projects.test_issue7_eligibility_rules import (
    AUREILLE_SIREN,
    draft,
    eligibility,
    file_draft,
    submit,
)
from tests.conftest import Actors
from tests.factories import make_candidate
from tests.support import file_required_documents

PROJECTS = "/api/v1/projects"
AUREILLE = Principal("agent-aureille", Role.CANDIDATE, siren=AUREILLE_SIREN)  # 1 533 inhabitants
TIER = "Communes de moins de 5 000 habitants"


def on_3a(eligible_cents: int, requested_cents: int) -> dict[str, Any]:
    return draft(
        strand="3a",
        expense_lines=[
            {"category": "consulting", "label": "Accompagnement", "amount_cents": eligible_cents}
        ],
        requested_cents=requested_cents,
    )


async def test_r_cap_3_a_request_above_the_forfait_is_refused_naming_it_and_its_tier(
    client: AsyncClient,
    headers,
    session: AsyncSession,  # type: ignore[no-untyped-def]
) -> None:
    """10 000 € asked on 3a by a commune under 5 000 inhabitants (forfait 5 000 €), 20 000 €
    eligible: the forfait binds, so R-CAP-3, not R-CAP-1."""
    await make_candidate(session, siren=AUREILLE_SIREN)
    project = await file_draft(client, headers, AUREILLE, on_3a(2_000_000, 1_000_000))
    await file_required_documents(client, headers(AUREILLE), project["id"])  # R-DOC-1 aside
    report = await eligibility(client, headers, AUREILLE, project["id"])
    assert (report["forfait_cents"], report["forfait_tier"], report["max_grant_cents"]) == (
        500_000,
        TIER,
        500_000,
    )
    assert report["funding_cap_cents"] == 2_000_000
    assert [(f["code"], f["field"]) for f in report["failures"]] == [
        ("R-CAP-3", "/requested_cents")
    ]
    refused = problem(await submit(client, headers, AUREILLE, project), 422, "R-CAP-3")
    (failure,) = refused["errors"]
    assert (failure["code"], failure["field"]) == ("R-CAP-3", "/requested_cents")
    assert "5\u202f000,00 €" in failure["message"] and f"« {TIER} »" in failure["message"]


async def test_r_cap_1_names_the_refusal_when_the_funding_cap_binds_below_the_forfait(
    client: AsyncClient,
    headers,
    session: AsyncSession,  # type: ignore[no-untyped-def]
) -> None:
    """3 000 € eligible (cap 3 000 € < forfait 5 000 €), 4 000 € asked: R-CAP-1."""
    await make_candidate(session, siren=AUREILLE_SIREN)
    project = await file_draft(client, headers, AUREILLE, on_3a(300_000, 400_000))
    await file_required_documents(client, headers(AUREILLE), project["id"])  # R-DOC-1 aside
    report = await eligibility(client, headers, AUREILLE, project["id"])
    assert (report["forfait_cents"], report["max_grant_cents"]) == (500_000, 300_000)
    assert [f["code"] for f in report["failures"]] == ["R-CAP-1", "R-CAP-2"]
    problem(await submit(client, headers, AUREILLE, project), 422, "R-CAP-1")


async def test_r_cap_3_the_committee_may_grant_below_the_request(
    client: AsyncClient,
    headers,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    actors: Actors,
    money: Money,
    committees: Committees,
) -> None:
    """4 500 € asked under the 5 000 € forfait: submitted; the committee grants 3 000 €."""
    await make_candidate(session, siren=AUREILLE_SIREN)
    project = await file_draft(client, headers, AUREILLE, on_3a(2_000_000, 450_000))
    submitted = await submit(client, headers, AUREILLE, project)
    assert submitted.status_code == 200, submitted.text
    project_id = uuid.UUID(project["id"])
    review = await client.post(
        f"{PROJECTS}/{project_id}/start-review",
        headers={**headers(actors.pref13), "If-Match": await money.etag(project_id)},
    )
    assert review.status_code == 200, review.text
    assert (await money.allocate("13", 10_000_000)).status_code == 201
    committee_id = await committees.new(meeting_on=clock.today().isoformat())
    assert (await committees.agenda(committee_id, [project_id])).status_code == 200
    decided = await committees.decide(committee_id, project_id, "accepted", 300_000)
    assert decided.status_code == 200, decided.text
    closed = await committees.close(committee_id)
    assert closed.status_code == 200, closed.text
    decision = (await committees.decision(project_id, who=AUREILLE)).json()
    assert (decision["outcome"], decision["granted_cents"]) == ("accepted", 300_000)
    grant = (await money.grant(project_id)).json()
    assert grant["amount_cents"] == 300_000
    assert await money.status(project_id) == "accepted"
