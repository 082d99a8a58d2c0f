"""allowed_actions never lies (issue 12): for each role on each state, every action offered is
accepted by the server and every action withheld is refused (R-FLOW-1, R-FLOW-3, R-ACL-1,
R-EVAL-2, R-EVAL-3, R-PAY-2).

Each action is tried on a fresh dossier in the state, by an actor that sees it (the candidate
who owns it, the prefect of its département, DINUM, ANCT). `accepted` and `under_convention`
need a real grant: tests/api/budgets/test_allowed_actions.py tries them. `evaluate` also hangs
on the strand (R-EVAL-3: ANCT on 3b only) and on the caller's own evaluation (R-EVAL-2: once
per evaluator), tried below on both strands and twice.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from app.projects.lifecycle_rules import ProjectAction, Status
from tests.api.evaluations.driver import PREF13_BIS, body as evaluation
from tests.conftest import AIX_SIREN, MARSEILLE_SIREN, Actors
from tests.factories import make_candidate, make_project
from tests.support import file_required_documents

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
    ProjectAction.EVALUATE: evaluation("3c"),  # the factory's strand (R-EVAL-1: its grid)
    ProjectAction.FINAL_REPORT: {"received_on": "2022-06-30", "summary": "Service ouvert."},
}
# `evaluate` posts to the collection of the dossier's evaluations; the others to their name.
PATHS = {ProjectAction.EVALUATE: "evaluations"}
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
    path = PATHS.get(action, action.value)
    return await client.post(f"{url}/{path}", json=json, headers={**headers, **etag})


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
    offered = await read_offer(client, caller, probe.id, status.value)

    for action in ProjectAction:
        project = await make_project(session, candidate=marseille, status=status.value)
        if status is Status.DRAFT:  # R-DOC-1: what its submission asks for, filed
            await file_required_documents(client, headers(actors.cand_a), project.id)
        judge(await attempt(client, caller, project.id, action), offered, action, who, status)


async def read_offer(
    client: AsyncClient, caller: dict[str, str], project_id: object, status: str
) -> list[str]:
    """What the dossier's read offers the caller, checked equal to what its list item offers."""
    read = await client.get(f"{URL}/{project_id}", headers=caller)
    assert read.status_code == 200, read.text
    offered: list[str] = read.json()["allowed_actions"]
    listed = await client.get(URL, params={"status": status}, headers=caller)
    (item,) = [i for i in listed.json()["items"] if i["id"] == str(project_id)]
    assert item["allowed_actions"] == offered  # the list says the same as the read
    return offered


def judge(response: Response, offered: list[str], action: ProjectAction, *context: object) -> None:
    """An offered action succeeds; a withheld one is refused (problem+json), and a 409 says
    what is open instead (the same `allowed_actions`)."""
    where = (*context, action, response.text)
    if action.value in offered:
        assert response.status_code in (200, 201), where
        return
    assert response.status_code in (403, 404, 409), where
    assert response.headers["content-type"] == "application/problem+json"
    if response.status_code == 409:
        assert response.json()["allowed_actions"] == offered, where


@pytest.mark.parametrize("status", ["submitted", "in_review"])
@pytest.mark.parametrize("strand", ["3b", "3c"])
@pytest.mark.parametrize("who", WHO)
async def test_evaluate_is_offered_by_r_eval_3_and_once_per_evaluator_by_r_eval_2(
    client: AsyncClient,
    session: AsyncSession,
    actors: Actors,
    headers,  # type: ignore[no-untyped-def]
    marseille: Candidate,
    who: str,
    strand: str,
    status: str,
) -> None:
    caller = headers(getattr(actors, who))
    project = await make_project(session, candidate=marseille, status=status, strand=strand)
    offered = await read_offer(client, caller, project.id, status)
    # R-EVAL-3: the prefect evaluates, ANCT on 3b only; candidates and DINUM never
    may = who == "pref13" or (who == "anct" and strand == "3b")
    assert ("evaluate" in offered) is may, (who, strand, offered)
    evaluate = ProjectAction.EVALUATE
    first = await attempt(client, caller, project.id, evaluate, evaluation(strand))
    judge(first, offered, evaluate, who, strand)
    if not may:
        assert first.json()["code"] in ("R-EVAL-3", "forbidden-role")
        return
    # R-EVAL-2: one evaluation per evaluator, so no longer offered to this one (list and read)
    after = await read_offer(client, caller, project.id, status)
    assert after == [a for a in offered if a != "evaluate"]
    second = await attempt(client, caller, project.id, evaluate, evaluation(strand))
    judge(second, after, evaluate, who, strand)
    assert (second.status_code, second.json()["code"]) == (409, "R-EVAL-2")
    # the fact is the caller's own: another agent of the prefecture still evaluates it
    if who == "pref13":
        other = headers(PREF13_BIS)
        assert "evaluate" in await read_offer(client, other, project.id, status)
        third = await attempt(client, other, project.id, evaluate, evaluation(strand))
        assert third.status_code == 201, third.text


async def test_evaluate_is_neither_offered_nor_accepted_out_of_scope(
    client: AsyncClient,
    session: AsyncSession,
    actors: Actors,
    headers,  # type: ignore[no-untyped-def]
    marseille: Candidate,
) -> None:
    """R-ACL-1: the prefect of another département neither reads the dossier nor evaluates it."""
    project = await make_project(session, candidate=marseille, status="in_review")
    caller = headers(actors.pref75)
    assert (await client.get(f"{URL}/{project.id}", headers=caller)).status_code == 404
    refused = await client.post(
        f"{URL}/{project.id}/evaluations", json=evaluation("3c"), headers=caller
    )
    assert refused.status_code == 404, refused.text


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
