"""Issue 28, lean routes (app/core/lean_route.py): the dossier, its eligibility report and the
envelope answer every request on their lean path exactly as FastAPI's own path does: the same
status, headers and bytes, for every caller (R-ACL-1: in scope, out of scope, wrong role, no
token, a bad one) and every parameter (invalid, unknown programme, given twice)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import Body, FastAPI
from httpx import AsyncClient

from app.core import lean_route
from app.core.concurrency import etag_for
from app.core.lean_route import LeanRoute, LeanRouteError, lean
from app.programme.dependencies import read_programme_name
from tests.conftest import Actors
from tests.leanpath import lean_routes, same_answers

API = "/api/v1"


def test_the_hot_reads_and_the_submission_are_lean(app: FastAPI) -> None:
    paths = sorted(route.path for route in lean_routes(app))
    assert paths == [
        "/committees/{committee_id}",
        "/envelopes",
        "/envelopes/{departement}",
        "/envelopes/{departement}/ledger",
        "/projects",
        "/projects/{project_id}",
        "/projects/{project_id}/decision",
        "/projects/{project_id}/eligibility",
        "/projects/{project_id}/grant",
        "/projects/{project_id}/submit",
    ]


async def test_r_acl_1_lean_reads_answer_as_fastapi_does(
    app: FastAPI,
    client: AsyncClient,
    envelope_13: dict[str, Any],
    in_review: uuid.UUID,
    headers: Any,
    actors: Actors,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    serve = lean_route._serve

    async def counted(plan: Any, scope: Any, receive: Any, send: Any) -> bool:
        answered = await serve(plan, scope, receive, send)
        calls.append(f"{scope['path']}?{scope['query_string'].decode()}:{answered}")
        return answered

    monkeypatch.setattr(lean_route, "_serve", counted)
    dossier = f"{API}/projects/{in_review}"
    paths = [
        dossier,
        f"{dossier}/eligibility",
        f"{API}/envelopes/13",
        f"{API}/envelopes/13?programme=FITN7-AXE3",
        f"{API}/envelopes/13?programme=inconnu",  # R-PROG-2: 404
        f"{API}/envelopes/13?programme=a&programme=b",  # twice: FastAPI's path
        f"{API}/envelopes/13?programme=%20bad",  # does not validate: FastAPI's 422
        f"{API}/envelopes/999",  # not a département: 422
        f"{API}/envelopes/75",  # no envelope: 404
        f"{API}/projects/not-a-uuid",
        f"{API}/projects/{uuid.uuid4()}",  # none: 404
        f"{API}/projects/{uuid.uuid4()}/eligibility",
        f"{API}/projects",
        f"{API}/projects?status=in_review&departement=13&limit=1",
        f"{API}/projects?status=nope",  # 422
        f"{API}/projects?limit=0",  # 422
        f"{API}/projects?cursor=garbage",  # 422 invalid-cursor, raised by its dependency
        f"{API}/projects?submitted_from=2021-01-01&submitted_to=2020-01-01",
        f"{API}/envelopes",
        f"{API}/envelopes?limit=1",
        f"{API}/envelopes/13/ledger",
        f"{API}/envelopes/13/ledger?updated_since=2021-01-01T00:00:00Z",
        f"{API}/envelopes/13/ledger?updated_since=garbage",  # 422
    ]
    callers = [
        headers(actors.pref13),
        headers(actors.pref75),  # out of scope: 404 (R-ACL-1)
        headers(actors.dinum),
        headers(actors.cand_a),  # the dossier's candidate; an envelope: 403
        headers(actors.cand_b),  # another candidate: 404
        {},  # no token: 401
        {"Authorization": "Bearer not-a-token"},  # 401
    ]
    statuses = await same_answers(app, client, paths, callers)
    assert statuses == {200, 401, 403, 404, 422}
    # The lean path answered the valid requests and left the others to FastAPI's.
    assert f"{dossier}?:True" in calls
    assert f"{API}/envelopes/13?programme=FITN7-AXE3:True" in calls
    assert f"{API}/envelopes/13?programme=a&programme=b:False" in calls
    assert f"{API}/projects/not-a-uuid?:False" in calls
    assert f"{API}/projects?status=in_review&departement=13&limit=1:True" in calls
    assert f"{API}/envelopes/13/ledger?:True" in calls


async def test_a_lean_read_answers_with_the_model_s_etag(
    client: AsyncClient, envelope_13: dict[str, Any], headers: Any, actors: Actors
) -> None:
    response = await client.get(f"{API}/envelopes/13", headers=headers(actors.dinum))
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == etag_for(envelope_13["version"])
    assert response.headers["content-type"] == "application/json"
    assert response.json() == envelope_13


async def test_an_overridden_dependency_takes_fastapi_s_path(
    app: FastAPI, client: AsyncClient, envelope_13: dict[str, Any], headers: Any, actors: Actors
) -> None:
    """A test's override of one of the route's dependencies is honoured: FastAPI's path."""

    async def other_programme() -> Any:
        raise AssertionError("overridden")

    app.dependency_overrides[read_programme_name] = other_programme
    try:
        with pytest.raises(AssertionError, match="overridden"):
            await client.get(f"{API}/envelopes/13", headers=headers(actors.dinum))
    finally:
        del app.dependency_overrides[read_programme_name]


def test_a_route_the_lean_path_cannot_solve_fails_at_startup() -> None:
    """A lean endpoint with a body, or without a response model, is refused when declared."""

    @lean
    async def with_body(data: dict[str, Any] = Body()) -> Any:
        return data

    with pytest.raises(LeanRouteError):
        LeanRoute("/x", with_body, methods=["GET"], response_model=dict)

    @lean
    async def without_model() -> Any:
        return {}

    with pytest.raises(LeanRouteError):
        LeanRoute("/x", without_model, methods=["GET"], response_model=None)

    async def unmarked() -> Any:
        return {}

    assert LeanRoute("/x", unmarked, methods=["GET"]).lean_plan is None  # FastAPI's path only
