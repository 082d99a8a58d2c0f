"""Issue 28, lean routes (app/core/lean_route.py): a committee, a dossier's decision and its
grant answer every request on their lean path exactly as FastAPI's own path does, for every
caller (R-ACL-1, R-COM-3: a candidate sees its decision once the committee is closed) and every
path parameter."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient

from tests.api.committees.driver import Committees
from tests.conftest import Actors
from tests.leanpath import same_answers

API = "/api/v1"


async def test_r_com_3_committee_decision_and_grant_reads_answer_as_fastapi_does(
    app: FastAPI,
    client: AsyncClient,
    committees: Committees,
    envelope_13: dict[str, Any],
    in_review: uuid.UUID,
    headers: Any,
    actors: Actors,
) -> None:
    callers = [
        headers(actors.pref13),
        headers(actors.pref75),  # out of scope: 404 (R-ACL-1)
        headers(actors.dinum),
        headers(actors.anct),
        headers(actors.cand_a),  # the dossier's candidate; a committee: 403
        headers(actors.cand_b),  # another candidate: 404
        {},  # no token: 401
        {"Authorization": "Bearer not-a-token"},  # 401
    ]
    committee_id = await committees.new()
    assert (await committees.agenda(committee_id, [in_review])).status_code == 200
    decided = await committees.decide(committee_id, in_review, "accepted", 1_000_000)
    assert decided.status_code == 200, decided.text
    paths = [
        f"{API}/committees/{committee_id}",
        f"{API}/projects/{in_review}/decision",  # open: the candidate does not see it yet
        f"{API}/projects/{in_review}/grant",
        f"{API}/committees/not-a-uuid",  # 422
        f"{API}/committees/{uuid.uuid4()}",  # none: 404
        f"{API}/projects/{uuid.uuid4()}/decision",
        f"{API}/projects/{uuid.uuid4()}/grant",
    ]
    opened = await same_answers(app, client, paths, callers)
    assert opened == {200, 401, 403, 404, 422}
    closed = await committees.close(committee_id)
    assert closed.status_code == 200, closed.text
    assert await same_answers(app, client, paths[:3], callers) == {200, 401, 403, 404}
    seen = await client.get(paths[1], headers=headers(actors.cand_a))
    assert seen.status_code == 200, seen.text  # R-COM-3: closed, its candidate sees it
    assert seen.json()["final"] is True
