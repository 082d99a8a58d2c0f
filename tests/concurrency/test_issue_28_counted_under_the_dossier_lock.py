"""Issue 28: a dossier's move in the dashboards' counters is read before the audit chain's head
is locked, held by the dossier's row lock instead (app.stats.counters `_read_counted`).

Two transactions change what one dossier contributes (§5) at once: A submits it (its UPDATE
holds the dossier's row), B changes its candidate's kind (which does not touch the dossier's
row). A third transaction holds the chain head (R-AUDIT-1), so that both commits are under way
together: A, having read its move, waits for the head; B waits for the dossier's row, before
its read, not for the head. When the head is released, A commits, then B reads what A
committed: every counter of the département equals its recomputation. Were B's read made
without the dossier's lock, both would have read the dossier's counted contribution before
either wrote it, and one of the two moves would be lost. (SQLite has one writer at a time.)
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core.db import hold_rows
from app.reference.kinds import OrganisationKind
from tests.api.stats.counting import counters_and_scratch
from tests.concurrency.conftest import DINUM, World, prefect_of

DEPARTEMENT = "19"


async def _waiting_on(world: World, pid: int) -> str:
    """The statement backend `pid` waits on a lock in, once it does."""
    for _ in range(500):
        async with world.sessionmaker() as session:
            row = (
                await session.execute(
                    text(
                        "SELECT query FROM pg_stat_activity"
                        " WHERE pid = :pid AND wait_event_type = 'Lock'"
                    ),
                    {"pid": pid},
                )
            ).first()
        if row is not None:
            return str(row[0])
        await asyncio.sleep(0.01)
    raise AssertionError(f"backend {pid} never waited on a lock")


async def _backend(session: AsyncSession) -> int:
    return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_issue_28_a_dossier_is_counted_by_one_transaction_at_a_time(world: World) -> None:
    if not world.is_postgres:
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): the race needs PostgreSQL")
    await world.open_envelope(DEPARTEMENT, 1_000_000)
    [project_id] = await world.dossiers_in_review(DEPARTEMENT, 1)
    async with world.sessionmaker() as session, session.begin():
        candidate_id = (
            await session.execute(
                text("SELECT candidate_id FROM project WHERE id = :id"), {"id": project_id}
            )
        ).scalar_one()
        # a draft again, as the counters know it (its move to in_review counted)
        await session.execute(
            text("UPDATE project SET status = 'draft', submitted_at = NULL WHERE id = :id"),
            {"id": project_id},
        )
        await audit.record(
            session,
            DINUM,
            object_type="project",
            object_id=project_id,
            departement=DEPARTEMENT,
            action="status_changed",
            before={"status": "in_review"},
            after={"status": "draft"},
        )

    holder = world.sessionmaker()
    a, b = world.sessionmaker(), world.sessionmaker()
    commits: list[asyncio.Task[None]] = []
    try:
        await holder.begin()
        await holder.execute(text("SELECT last_seq FROM audit_chain_head FOR UPDATE"))
        await a.begin()
        await a.execute(
            text("UPDATE project SET status = 'submitted', submitted_at = now() WHERE id = :id"),
            {"id": project_id},
        )
        hold_rows(a, "project", [project_id])
        await _record(a, prefect_of(DEPARTEMENT), "project", project_id, "draft", "submitted")
        await b.begin()
        await b.execute(
            text("UPDATE candidate SET kind = :kind WHERE id = :id"),
            {"kind": OrganisationKind.EPCI.value, "id": candidate_id},
        )
        await _record(b, DINUM, "candidate", candidate_id, "commune", "epci")
        a_pid, b_pid = await _backend(a), await _backend(b)

        commits.append(asyncio.create_task(a.commit()))
        assert "audit_chain_head" in await _waiting_on(world, a_pid)
        commits.append(asyncio.create_task(b.commit()))
        # B waits for the dossier's row (held by A until its COMMIT), before reading its move
        waited = await _waiting_on(world, b_pid)
        assert "FOR NO KEY UPDATE" in waited and "FROM project" in waited, waited
        await holder.rollback()
        await asyncio.wait_for(asyncio.gather(*commits), timeout=30)
    finally:
        await holder.close()  # the head released: the commits under way end
        await asyncio.gather(*commits, return_exceptions=True)
        await a.close()
        await b.close()

    async with world.sessionmaker() as session:
        tables = await session.run_sync(
            lambda s: counters_and_scratch(s.connection(), by_programme=False)
        )
    (counters, scratch), _, (projects, scratch_p) = tables

    def mine(table: dict[tuple[Any, ...], Any]) -> dict[tuple[Any, ...], Any]:
        return {key: values for key, values in table.items() if key[0] == DEPARTEMENT}

    assert mine(counters) == mine(scratch)
    assert mine(counters)[(DEPARTEMENT, "kind", "epci")][0] == 1  # the submitted dossier
    assert {r for r in projects if r[1] == DEPARTEMENT} == {
        r for r in scratch_p if r[1] == DEPARTEMENT
    }


async def _record(
    session: AsyncSession,
    who: Any,
    object_type: str,
    object_id: uuid.UUID,
    before: str,
    after: str,
) -> None:
    field = "status" if object_type == "project" else "kind"
    await audit.record(
        session,
        who,
        object_type=object_type,
        object_id=object_id,
        departement=DEPARTEMENT,
        action="updated",
        before={field: before},
        after={field: after},
    )
