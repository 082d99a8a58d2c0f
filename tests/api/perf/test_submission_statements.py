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
asks for (R-DOC-1) read with the dossier (`hooks.requirement_fact_columns`).

Issue 28, eighth round: 8 -> 6 on PostgreSQL (11 -> 9 on SQLite): what the commit's listeners
read, the notices' addresses (R-NOTIF-1) and the active subscriptions (R-HOOK-1), read with the
dossier (`hooks.written_fact_columns`).

Issue 28, thirteenth round: 8 -> 7 on PostgreSQL: the counters' read made before the chain
head's lock (the submission's UPDATE holds the dossier's row, which serialises its counting),
their upsert riding with the append (one statement under the lock, with the event and the
head's move).

Issue 28, sixteenth round: 7 -> 6 on PostgreSQL: the counters' read is part of the chain
head's lock statement (`audit.service.read_with_lock`, a LATERAL join of the head's row)."""

from __future__ import annotations

import uuid
from typing import Any

from httpx import AsyncClient
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import MARSEILLE_SIREN, Actors
from tests.factories import make_candidate, make_project
from tests.querycount import StatementLog, count_statements
from tests.support import file_required_documents

# BEGIN, 4 statements on PostgreSQL (9 on SQLite), COMMIT
SUBMISSION_BUDGET = {"postgresql": 6, "sqlite": 11}


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


async def test_the_outboxes_facts_are_read_with_the_dossier(
    client: AsyncClient, engine: AsyncEngine, session: AsyncSession, headers: Any, actors: Actors
) -> None:
    """Issue 28: a burst of submissions is bound by the server's CPU, a tenth of it per round
    trip. What the commit's listeners read (the notices' recipients, R-NOTIF-1; the active
    subscriptions, R-HOOK-1) comes with the dossier, in the first statement: no statement of
    their own at the commit."""
    log = await _submitted(client, engine, session, headers, actors)
    first, *rest = log.data
    assert "FROM project" in first and "notification_prefecture_address" in first, first
    assert "FROM webhook_subscription" in first, first
    read_again = [s for s in rest if "prefecture_addr" in s or "webhook_subscription" in s]
    assert not read_again, log.explain()


async def test_another_write_s_outboxes_read_before_the_chain_head_is_locked(
    client: AsyncClient, engine: AsyncEngine, session: AsyncSession, headers: Any, actors: Actors
) -> None:
    """Issue 28: a burst queues on the audit chain's head (R-AUDIT-1), held from its lock to
    the COMMIT. A write that does not read its dossier with them (a prefect returning a
    dossier) reads the notices' recipients (R-NOTIF-1) and the subscriptions (R-HOOK-1; its
    deliveries name their event's `seq`, so they are written after the append) before the
    lock (`before_append`)."""
    await _submitted(client, engine, session, headers, actors)
    [project_id] = (await session.execute(text("SELECT id FROM project"))).scalars().all()
    url, pref = f"/api/v1/projects/{uuid.UUID(str(project_id))}", headers(actors.pref13)
    etag = (await client.get(url, headers=pref)).headers["ETag"]
    reviewed = await client.post(f"{url}/start-review", headers={**pref, "If-Match": etag})
    assert reviewed.status_code == 200, reviewed.text
    with count_statements(engine) as log:
        returned = await client.post(
            f"{url}/return",
            json={"message": "Joignez le devis."},
            headers={**pref, "If-Match": reviewed.headers["ETag"]},
        )
    assert returned.status_code == 200, returned.text
    # the head's read (… FOR UPDATE on PostgreSQL; SQLite's one writer holds the database)
    lock = next(i for i, s in enumerate(log.data) if "FROM audit_chain_head" in s)
    notices = [i for i, s in enumerate(log.data) if "prefecture_addr" in s]
    assert notices, log.explain()  # the return's notice was planned (R-NOTIF-1)
    subscriptions = [i for i, s in enumerate(log.data) if "FROM webhook_subscription" in s]
    assert subscriptions, log.explain()  # a transition is an event of a subscribable type
    assert max(notices + subscriptions) < lock, log.explain()


async def test_the_counters_are_read_with_the_chain_head_s_lock_and_written_with_the_append(
    client: AsyncClient, engine: AsyncEngine, session: AsyncSession, headers: Any, actors: Actors
) -> None:
    """Issue 28: a burst of submissions queues on the audit chain's head (R-AUDIT-1), held from
    its lock to the COMMIT, each round trip under it waiting for the event loop. The counters'
    read (§5) takes no lock of its own (the submission's UPDATE holds the dossier's row). On
    PostgreSQL it is part of the head's lock statement (one round trip less: it reads in the
    snapshot taken before the lock's wait, as a read just before it would) and their upsert is
    part of the append's statement, so that the lock holds three round trips: its own, the
    append and the COMMIT. Elsewhere the read comes before the lock."""
    log = await _submitted(client, engine, session, headers, actors)
    lock = next(i for i, s in enumerate(log.data) if "FROM audit_chain_head" in s)
    read = next(i for i, s in enumerate(log.data) if "LEFT OUTER JOIN stats_project" in s)
    assert not any("FOR NO KEY UPDATE" in s for s in log.data), log.explain()
    held = log.data[lock + 1 :]
    if engine.dialect.name == "postgresql":
        assert read == lock and "FOR UPDATE OF audit_chain_head" in log.data[lock], log.explain()
        [append] = held
        assert "INSERT INTO audit_event" in append and "INSERT INTO stats_counter" in append
        assert "INSERT INTO stats_project" in append and "UPDATE audit_chain_head" in append
    else:
        assert read < lock, log.explain()
        assert any("INSERT INTO stats_counter" in s for s in held), log.explain()


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
