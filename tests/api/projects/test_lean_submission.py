"""Issue 28: the submission (R-FLOW-1, R-FLOW-2, R-FLOW-3) on its lean path (app/core/lean_route.py,
`write_access`) answers every request as FastAPI's own path does: the same status, headers and
bytes for each caller (R-ACL-1: its candidate, another one, a prefect, DINUM, no token, a bad
one) and each If-Match (none, stale, too long, given twice); and a submission it accepts is the
dossier a front-end reads next."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import lean_route
from tests.conftest import AIX_SIREN, MARSEILLE_SIREN, Actors
from tests.factories import make_candidate, make_project
from tests.leanpath import same_answers
from tests.support import file_required_documents

URL = "/api/v1/projects"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`METHOD path:answered on the lean path?` of each request a lean route saw."""
    calls: list[str] = []
    serve = lean_route._serve

    async def counted(plan: Any, scope: Any, receive: Any, send: Any) -> bool:
        answered = True  # also when the endpoint raised to the exception handlers (a 4xx)
        try:
            answered = await serve(plan, scope, receive, send)
        finally:
            calls.append(f"{scope['method']} {scope['path']}:{answered}")
        return answered

    monkeypatch.setattr(lean_route, "_serve", counted)
    return calls


@pytest.fixture
async def drafts(
    session: AsyncSession, client: AsyncClient, headers: Any, actors: Actors
) -> tuple[uuid.UUID, uuid.UUID]:
    """Two drafts of Marseille's: the first with the documents its submission asks for
    (R-DOC-1), the second without."""
    await make_candidate(session, siren=AIX_SIREN)
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    ready = await make_project(session, candidate=marseille)
    lacking = await make_project(session, candidate=marseille)
    await file_required_documents(client, headers(actors.cand_a), ready.id, step="submission")
    return ready.id, lacking.id


@dataclass(frozen=True)
class Case:
    """The app, its client, the candidate's headers and its drafts' submission paths."""

    app: FastAPI
    client: AsyncClient
    mine: dict[str, str]
    submit: str  # the draft with its documents
    lacking: str  # the draft without
    served: list[str]


@pytest.fixture
async def case(
    app: FastAPI,
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    drafts: tuple[uuid.UUID, uuid.UUID],
    served: list[str],
) -> Case:
    ready, lacking = drafts
    mine = headers(actors.cand_a)
    return Case(app, client, mine, f"{URL}/{ready}/submit", f"{URL}/{lacking}/submit", served)


async def test_r_flow_3_a_refused_submission_answers_as_fastapi_does(
    case: Case, headers: Any, actors: Actors
) -> None:
    app, client, mine, submit, served = case.app, case.client, case.mine, case.submit, case.served
    callers = [
        {**mine, "If-Match": '"v9"'},  # stale: 412 (R-FLOW-3)
        mine,  # none: 428 (R-FLOW-3)
        {**mine, "If-Match": '"' + "1" * 120 + '"'},  # too long: FastAPI's 422
        {**headers(actors.cand_b), "If-Match": '"v1"'},  # another candidate's: 404 (R-ACL-1)
        {**headers(actors.pref13), "If-Match": '"v1"'},  # not a candidate: 403
        {**headers(actors.dinum), "If-Match": '"v1"'},
        {"If-Match": '"v1"'},  # no token: 401
        {"Authorization": "Bearer not-a-token", "If-Match": '"v1"'},
    ]
    statuses = await same_answers(app, client, [submit], callers, method="POST")
    assert statuses == {401, 403, 404, 412, 422, 428}
    # R-FLOW-2, R-DOC-1: the draft without its documents, refused with each missing one.
    lacks = {**mine, "If-Match": '"v1"'}
    assert await same_answers(app, client, [case.lacking], [lacks], method="POST") == {422}
    refused = await client.post(case.lacking, headers=lacks)
    assert {e["code"] for e in refused.json()["errors"]} == {"R-DOC-1"}
    # Not a dossier's id, none such: FastAPI's 422, then a 404.
    nowhere = [f"{URL}/not-a-uuid/submit", f"{URL}/{uuid.uuid4()}/submit"]
    assert await same_answers(app, client, nowhere, [lacks], method="POST") == {404, 422}
    assert f"POST {submit}:True" in served
    assert f"POST {URL}/not-a-uuid/submit:False" in served


async def test_r_flow_1_a_lean_submission_is_the_dossier_read_next(case: Case) -> None:
    app, client, mine, submit, served = case.app, case.client, case.mine, case.submit, case.served
    # If-Match given twice: FastAPI's path decides, which reads the first one (stale: 412).
    twice = await client.post(
        submit, headers=[*mine.items(), ("If-Match", '"v7"'), ("If-Match", '"v1"')]
    )
    assert served == [f"POST {submit}:False"]
    assert twice.status_code == 412, twice.text
    submitted = await client.post(submit, headers={**mine, "If-Match": '"v1"'})
    assert submitted.status_code == 200, submitted.text
    assert served[-1] == f"POST {submit}:True"
    read = await client.get(submit.removesuffix("/submit"), headers=mine)
    assert submitted.json() == read.json()
    assert submitted.json()["status"] == "submitted"
    assert submitted.headers["ETag"] == read.headers["ETag"] == '"v2"'
    # Submitted already: R-FLOW-1's 409, with what the candidate may do now, on both paths.
    again = {**mine, "If-Match": '"v2"'}
    assert await same_answers(app, client, [submit], [again], method="POST") == {409}
