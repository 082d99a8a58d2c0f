"""allowed_actions never lies (issue 12): for each role on each state, every action offered is
accepted by the server and every action withheld is refused (R-FLOW-1, R-FLOW-3, R-ACL-1).

Each action is tried on a fresh dossier in the state, by an actor that sees it (the candidate
who owns it, the prefect of its département, DINUM, ANCT). `accepted` and `under_convention`
need a real grant: tests/api/budgets/test_allowed_actions.py tries them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from app.projects.rules import ProjectAction, Status
from tests.conftest import AIX_SIREN, MARSEILLE_SIREN, Actors
from tests.factories import make_candidate, make_project

URL = "/api/v1/projects"
WHO = ["cand_a", "pref13", "dinum", "anct"]
BODIES: dict[ProjectAction, dict[str, Any] | None] = {
    ProjectAction.EDIT: {"title": "Prise de rendez-vous en ligne (v2)"},
    ProjectAction.SUBMIT: None,
    ProjectAction.WITHDRAW: None,
    ProjectAction.START_REVIEW: None,
    ProjectAction.RETURN: {"message": "Précisez le plan de financement."},
    ProjectAction.CLOSE: {"reason": "Projet abandonné par la commune."},
    ProjectAction.CONVENTION: {
        "reference": "CRTE-13-2021-042",
        "kind": "crte",
        "signed_on": "2021-07-01",
        "schedule": [
            {"label": "Avance", "kind": "advance", "due_on": "2021-07-15", "amount_cents": 300_000},
            {"label": "Solde", "kind": "balance", "due_on": "2022-07-15", "amount_cents": 700_000},
        ],
    },
    ProjectAction.PAYMENTS: {"kind": "advance", "amount_cents": 100_000, "paid_on": "2021-07-15"},
    ProjectAction.CANCEL: {"reason": "Projet abandonné par la collectivité."},
}
WITH_GRANT = {Status.ACCEPTED, Status.UNDER_CONVENTION}


@pytest.fixture
async def marseille(session: AsyncSession) -> Candidate:
    await make_candidate(session, siren=AIX_SIREN)
    return await make_candidate(session, siren=MARSEILLE_SIREN)


async def attempt(
    client: AsyncClient,
    headers: dict[str, str],
    project_id: object,
    action: ProjectAction,
    body: dict[str, Any] | None = None,
) -> Response:
    """`action` on the dossier as a UI would: read it, then send the ETag just read."""
    url = f"{URL}/{project_id}"
    read = await client.get(url, headers=headers)
    etag = {"If-Match": read.headers["ETag"]}
    json = BODIES[action] if body is None else body
    if action is ProjectAction.EDIT:
        return await client.patch(url, json=json, headers={**headers, **etag})
    return await client.post(f"{url}/{action.value}", json=json, headers={**headers, **etag})


@pytest.mark.parametrize("status", sorted(set(Status) - WITH_GRANT))
@pytest.mark.parametrize("who", WHO)
async def test_allowed_actions_are_exactly_what_the_server_accepts(
    client: AsyncClient,
    session: AsyncSession,
    actors: Actors,
    headers,  # type: ignore[no-untyped-def]
    marseille: Candidate,
    who: str,
    status: Status,
) -> None:
    caller = headers(getattr(actors, who))
    probe = await make_project(session, candidate=marseille, status=status.value)
    read = await client.get(f"{URL}/{probe.id}", headers=caller)
    assert read.status_code == 200, read.text
    offered = read.json()["allowed_actions"]
    listed = await client.get(URL, params={"status": status.value}, headers=caller)
    (item,) = [i for i in listed.json()["items"] if i["id"] == str(probe.id)]
    assert item["allowed_actions"] == offered  # the list says the same as the read

    for action in ProjectAction:
        project = await make_project(session, candidate=marseille, status=status.value)
        response = await attempt(client, caller, project.id, action)
        if action.value in offered:
            assert response.status_code == 200, (who, status, action, response.text)
        else:
            assert response.status_code in (403, 409), (who, status, action, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            if response.status_code == 409:  # the refusal says what is open instead
                assert response.json()["allowed_actions"] == offered, (who, status, action)


async def test_a_returned_dossier_is_told_apart_from_a_new_draft(
    client: AsyncClient,
    session: AsyncSession,
    actors: Actors,
    headers,  # type: ignore[no-untyped-def]
    marseille: Candidate,
) -> None:
    fresh = await make_project(session, candidate=marseille)
    new = (await client.get(f"{URL}/{fresh.id}", headers=headers(actors.cand_a))).json()
    assert (new["status"], new["returned_at"], new["status_message"]) == ("draft", None, None)

    reviewed = await make_project(session, candidate=marseille, status="in_review")
    returned = await attempt(client, headers(actors.pref13), reviewed.id, ProjectAction.RETURN)
    assert returned.status_code == 200, returned.text
    # the transition's answer speaks to its caller: the prefect has nothing left to do
    assert returned.json()["allowed_actions"] == []
    seen = (await client.get(f"{URL}/{reviewed.id}", headers=headers(actors.cand_a))).json()
    assert seen["status"] == "draft"
    assert seen["returned_at"] is not None
    assert seen["status_message"] == "Précisez le plan de financement."
    assert seen["allowed_actions"] == ["edit", "submit", "withdraw"]
    listed = await client.get(URL, params={"status": "draft"}, headers=headers(actors.cand_a))
    returned_at = {i["id"]: i["returned_at"] for i in listed.json()["items"]}
    assert returned_at[str(fresh.id)] is None and returned_at[str(reviewed.id)] is not None


async def test_the_contracts_409_example_of_submit_is_what_the_server_answers(
    client: AsyncClient,
    session: AsyncSession,
    actors: Actors,
    headers,  # type: ignore[no-untyped-def]
    marseille: Candidate,
) -> None:
    from app.openapi_export import CONTRACT_PATH

    contract = json.loads(CONTRACT_PATH.read_text())
    documented = contract["paths"]["/api/v1/projects/{project_id}/submit"]["post"]["responses"][
        "409"
    ]["content"]["application/problem+json"]["example"]
    project = await make_project(session, candidate=marseille, status="in_review")
    answer = (
        await attempt(client, headers(actors.cand_a), project.id, ProjectAction.SUBMIT)
    ).json()
    keys = ("type", "title", "status", "detail", "code", "current_status", "allowed_actions")
    assert {k: answer[k] for k in keys} == {k: documented[k] for k in keys}
