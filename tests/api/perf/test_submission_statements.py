"""Issue 28: a submission's statements, counted (tests/querycount.py: the data statements plus
the request's BEGIN and COMMIT) and listed, so that a statement added to the write path shows.

A submission of a draft judged eligible (R-FLOW-2) reads the dossier with its lines (JSON
arrays), its candidate's name, kind, population and EPCI type, its programme's version, its
département's own forfaits (R-CAP-3), the caller's guard facts and its documents (R-DOC-1) in
one statement; writes its UPDATE (guarded by its version, R-FLOW-3) and its history row
(one statement on PostgreSQL, two on SQLite); at its commit, the notifications' recipients and
the webhooks' subscriptions (read before the chain head's lock), the audit append (R-AUDIT-1:
the head locked, the event and the head's move, one statement on PostgreSQL, two on SQLite) and
the counters' read and their upserts (the dossier's contribution and the counters, one
statement on PostgreSQL, two on SQLite).

Issue 28, second pass: 12 -> 9 statements on PostgreSQL (13 -> 12 on SQLite): the lines read
with the dossier (and the département's forfaits, one more statement before on a strand with
forfaits), the history row written by the UPDATE's statement, the counters' two upserts in
one (app.stats.together).

Issue 28, third pass: 9 -> 8 on PostgreSQL (12 -> 11 on SQLite): the documents the submission
asks for (R-DOC-1) read with the dossier (`hooks.requirement_fact_columns`)."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import MARSEILLE_SIREN, Actors
from tests.factories import make_candidate, make_project
from tests.querycount import StatementLog, count_statements
from tests.support import file_required_documents

# BEGIN, 8 statements on PostgreSQL (11 on SQLite), COMMIT
SUBMISSION_BUDGET = {"postgresql": 10, "sqlite": 13}


async def _submitted(
    client: AsyncClient, engine: AsyncEngine, session: AsyncSession, headers: Any, actors: Actors
) -> StatementLog:
    """The statements of a draft's submission (ten lines, its documents filed: R-DOC-1)."""
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
    return log


async def test_a_submission_costs_a_fixed_number_of_statements(
    client: AsyncClient, engine: AsyncEngine, session: AsyncSession, headers: Any, actors: Actors
) -> None:
    log = await _submitted(client, engine, session, headers, actors)
    print(log.total, "\n", log.explain())  # noqa: T201
    assert log.total <= SUBMISSION_BUDGET[engine.dialect.name], log.explain()


async def test_the_outboxes_read_what_they_can_before_the_chain_head_is_locked(
    client: AsyncClient, engine: AsyncEngine, session: AsyncSession, headers: Any, actors: Actors
) -> None:
    """Issue 28: a burst of submissions queues on the audit chain's head (R-AUDIT-1), held from
    its lock to the COMMIT. The notifications' read of the recipients and their outbox rows
    (R-NOTIF-1) need nothing of the chain, nor does the webhooks' read of the subscriptions
    (R-HOOK-1; its deliveries name their event's `seq`, so they are written after the append):
    they run before the lock (`before_append`)."""
    log = await _submitted(client, engine, session, headers, actors)
    # the head's read (… FOR UPDATE on PostgreSQL; SQLite's one writer holds the database)
    lock = next(i for i, s in enumerate(log.data) if "FROM audit_chain_head" in s)
    notices = [i for i, s in enumerate(log.data) if "prefecture_addr" in s or "notification" in s]
    assert notices, log.explain()  # the submission's notices were planned (R-NOTIF-1)
    subscriptions = [i for i, s in enumerate(log.data) if "FROM webhook_subscription" in s]
    assert subscriptions, log.explain()  # a submission is an event of a subscribable type
    assert max(notices + subscriptions) < lock, log.explain()


async def test_a_submission_binds_no_array(
    client: AsyncClient, engine: AsyncEngine, session: AsyncSession, headers: Any, actors: Actors
) -> None:
    """Issue 28: asyncpg looks up an array type's codec in the catalog on each connection that
    first binds one (a recursive query on pg_type: 17 ms to parse and 35 ms to bind on a fresh
    backend), which the burst of submissions paid on every connection of the pool. The counters'
    rows are bound as JSON (app.stats.together), the ids of a list as one parameter each."""
    bound: list[Any] = []

    def _before(
        _conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        for row in parameters if many else [parameters]:
            bound.extend(row.values() if isinstance(row, dict) else row or ())

    event.listen(engine.sync_engine, "before_cursor_execute", _before)
    try:
        log = await _submitted(client, engine, session, headers, actors)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", _before)
    assert any("stats_counter" in s for s in log.data), log.explain()  # counted (§5)
    arrays = [value for value in bound if isinstance(value, list | tuple)]
    assert not arrays, arrays
