"""Migration 7c3e91b5a2d4 (R-PROG-2): the dashboards' counters become per programme and the
published rows name their programme. Dossiers, grants, payments and conventions of two
programmes written before the counters existed go through every migration since: the
counters equal their recomputation per programme, each published row names its dossier's
programme, and the downgrade adds the programmes' counters up again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest_asyncio
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.api.stats.counting import counters_and_scratch
from tests.migrations.rows import insert_row
from tests.migrations.test_migrations import _config
from tests.support import create_database, drop_database

REVISION = "7c3e91b5a2d4"
BEFORE_COUNTERS = "c922c1a4c3bd"  # before the published rows and the counters existed


@pytest_asyncio.fixture(loop_scope="session")
async def url(tmp_path: Path) -> AsyncIterator[str]:
    url = await create_database(tmp_path, "programme_keys")
    try:
        yield url
    finally:
        await drop_database(url)


def _seed(connection: Connection) -> dict[str, uuid.UUID]:
    ids = {k: uuid.uuid4() for k in ("p1", "p2", "e1", "e2", "cand")}
    for key, code in (("p1", "FITN7-AXE3"), ("p2", "NUMERIQUE-TERRITOIRES-2026")):
        insert_row(connection, "programme", id=ids[key], code=code, version=1)
    for env, programme in (("e1", "p1"), ("e2", "p2")):
        insert_row(
            connection, "envelope", id=ids[env], programme_id=ids[programme], departement="13",
            allocated_cents=10_000, committed_cents=1_000, version=1,
        )  # fmt: skip
    insert_row(
        connection, "candidate", id=ids["cand"], siret="21130055300016", siren="211300553",
        kind="commune", departement="13", verification="verified",
    )  # fmt: skip
    for programme, envelope, strand, amount in (
        ("p1", "e1", "3c", 600),
        ("p2", "e2", "3a", 900),
    ):
        pid, gid = uuid.uuid4(), uuid.uuid4()
        ids[f"project_{programme}"], ids[f"grant_{programme}"] = pid, gid
        insert_row(
            connection, "project", id=pid, candidate_id=ids["cand"], programme_id=ids[programme],
            departement="13", strand=strand, status="under_convention",
            submitted_at=datetime(2021, 3, 2, 9, tzinfo=UTC), requested_cents=amount,
            agents_impacted=3, users_impacted=30, version=1,
        )  # fmt: skip
        insert_row(
            connection, "project_grant", id=gid, project_id=pid, envelope_id=ids[envelope],
            amount_cents=amount, paid_cents=100, released_cents=0, status="active",
            committed_at=datetime(2021, 3, 10, 15, tzinfo=UTC),
        )  # fmt: skip
        insert_row(
            connection, "payment", id=uuid.uuid4(), project_id=pid, grant_id=gid,
            kind="advance", amount_cents=100, paid_on=date(2021, 3, 20), created_by="x",
        )  # fmt: skip
        insert_row(
            connection, "convention", id=uuid.uuid4(), project_id=pid, signed_on=date(2021, 3, 15),
            schedule=[{"label": "Solde", "kind": "balance", "amount_cents": amount,
                       "due_on": "2021-09-30"}],
        )  # fmt: skip
    return ids


async def test_counters_and_published_rows_get_their_programme(url: str) -> None:
    cfg = _config(url)
    await asyncio.to_thread(command.upgrade, cfg, BEFORE_COUNTERS)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            ids = await connection.run_sync(_seed)
        await asyncio.to_thread(command.upgrade, cfg, REVISION)
        async with engine.connect() as connection:
            tables: Any = await connection.run_sync(counters_and_scratch)
            published = (
                await connection.execute(
                    sa.text("SELECT grant_id, programme_id FROM published_grant")
                )
            ).all()
        (counters, scratch), _beneficiaries, _projects = tables
        assert counters == scratch
        p1, p2 = ids["p1"], ids["p2"]
        assert counters[(p1, "13", "strand", "3c")] == (1, 600)
        assert counters[(p2, "13", "strand", "3a")] == (1, 900)
        assert counters[(p1, "13", "payments", "2021-03")] == (1, 100)
        assert counters[(p2, "13", "payments", "2021-03")] == (1, 100)
        assert counters[(p2, "13", "status", "under_convention")] == (1, 0)

        def as_uuid(value: Any) -> uuid.UUID:
            return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))

        assert {as_uuid(g): as_uuid(p) for g, p in published} == {
            ids["grant_p1"]: p1,
            ids["grant_p2"]: p2,
        }

        await asyncio.to_thread(command.downgrade, cfg, "5e1a7c0d2b94")
        async with engine.connect() as connection:
            tables = await connection.run_sync(
                lambda c: counters_and_scratch(c, by_programme=False)
            )
            columns = await connection.run_sync(
                lambda c: [col["name"] for col in sa.inspect(c).get_columns("published_grant")]
            )
        (summed, scratch_summed), _b, _p = tables
        assert summed == scratch_summed
        assert summed[("13", "payments", "2021-03")] == (2, 200)
        assert summed[("13", "status", "under_convention")] == (2, 0)
        assert "programme_id" not in columns
    finally:
        await engine.dispose()
