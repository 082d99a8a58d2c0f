"""Issue 28: a submission's statements, counted (tests/querycount.py: the data statements plus
the request's BEGIN and COMMIT) and listed, so that a statement added to the write path shows.

A submission of a draft judged eligible (R-FLOW-2) reads the dossier with its lines (JSON
arrays), its candidate's name, kind, population and EPCI type, its programme's version, its
département's own forfaits (R-CAP-3), the caller's guard facts and its documents (R-DOC-1) in
one statement; writes its UPDATE (guarded by its version, R-FLOW-3) and its history row
(one statement on PostgreSQL, two on SQLite); at its commit, the audit append (R-AUDIT-1: the
head locked, the event and the head's move, one statement on PostgreSQL, two on SQLite) and
its listeners: the notifications' recipients, the counters' read and their upserts (the
dossier's contribution and the counters, one statement on PostgreSQL, two on SQLite), the
webhooks' subscriptions.

Issue 28, second pass: 12 -> 9 statements on PostgreSQL (13 -> 12 on SQLite): the lines read
with the dossier (and the département's forfaits, one more statement before on a strand with
forfaits), the history row written by the UPDATE's statement, the counters' two upserts in
one (app.stats.together).

Issue 28, third pass: 9 -> 8 on PostgreSQL (12 -> 11 on SQLite): the documents the submission
asks for (R-DOC-1) read with the dossier (`hooks.requirement_fact_columns`)."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import MARSEILLE_SIREN, Actors
from tests.factories import make_candidate, make_project
from tests.querycount import count_statements
from tests.support import file_required_documents

# BEGIN, 8 statements on PostgreSQL (11 on SQLite), COMMIT
SUBMISSION_BUDGET = {"postgresql": 10, "sqlite": 13}


async def test_a_submission_costs_a_fixed_number_of_statements(
    client: AsyncClient, engine: AsyncEngine, session: AsyncSession, headers: Any, actors: Actors
) -> None:
    candidate = await make_candidate(session, siren=MARSEILLE_SIREN)
    draft = await make_project(session, candidate=candidate, lines=[("development", 200_000)] * 10)
    h = headers(actors.cand_a)
    await file_required_documents(client, h, draft.id, step="submission")
    with count_statements(engine) as log:
        response = await client.post(
            f"/api/v1/projects/{draft.id}/submit", headers={**h, "If-Match": '"v1"'}
        )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "submitted"
    print(log.total, "\n", log.explain())  # noqa: T201
    assert log.total <= SUBMISSION_BUDGET[engine.dialect.name], log.explain()
