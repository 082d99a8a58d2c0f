"""Migration d9fd9e8ebff3 (issue 28): dossiers, grants and payments written before it are
counted by it (the counters equal their recomputation from scratch, and the figures known in
advance), and the downgrade drops the counters."""

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
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.api.stats.counting import counters_and_scratch
from tests.migrations.rows import insert_row
from tests.migrations.test_migrations import _config
from tests.support import create_database, drop_database

REVISION = "d9fd9e8ebff3"


@pytest_asyncio.fixture(loop_scope="session")
async def url(tmp_path: Path) -> AsyncIterator[str]:
    url = await create_database(tmp_path, "dashboard_counters")
    try:
        yield url
    finally:
        await drop_database(url)


def utc(day: str, hour: int, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


def _seed(connection: Connection) -> dict[str, uuid.UUID]:
    ids = {k: uuid.uuid4() for k in ("programme", "envelope", "c13", "c75")}
    insert_row(connection, "programme", id=ids["programme"], code="FITN7", version=1)
    insert_row(
        connection, "envelope", id=ids["envelope"], programme_id=ids["programme"],
        departement="13", allocated_cents=10_000, committed_cents=1_000, version=1,
    )  # fmt: skip
    for key, siren, kind, dep in (
        ("c13", "211300553", "commune", "13"), ("c75", "200054781", "epci", "75"),
    ):  # fmt: skip
        insert_row(
            connection, "candidate", id=ids[key], siret=f"{siren}00016", siren=siren, kind=kind,
            departement=dep, verification="verified",
        )  # fmt: skip

    def dossier(cand: str, strand: str, status: str, submitted: datetime | None, asked: int,
                agents: int = 0, users: int = 0) -> uuid.UUID:  # fmt: skip
        pid = uuid.uuid4()
        insert_row(
            connection, "project", id=pid, candidate_id=ids[cand], programme_id=ids["programme"],
            departement=cand[1:], strand=strand, status=status, submitted_at=submitted,
            requested_cents=asked, agents_impacted=agents, users_impacted=users, version=1,
        )  # fmt: skip
        return pid

    def grant(pid: uuid.UUID, amount: int, paid: int, released: int, status: str,
              at: datetime) -> uuid.UUID:  # fmt: skip
        gid = uuid.uuid4()
        insert_row(
            connection, "project_grant", id=gid, project_id=pid, envelope_id=ids["envelope"],
            amount_cents=amount, paid_cents=paid, released_cents=released, status=status,
            committed_at=at,
        )  # fmt: skip
        return gid

    dossier("c13", "3c", "draft", None, 100)
    # 23:30 UTC on 31 March: April in Paris, March in UTC (the months are UTC's)
    dossier("c13", "3b", "submitted", utc("2021-03-31", 23, 30), 500)
    cancelled = dossier("c13", "3c", "cancelled", utc("2021-03-02", 9), 700, 7, 70)
    gid = grant(cancelled, 600, 200, 400, "cancelled", utc("2021-03-10", 15))
    insert_row(
        connection, "payment", id=uuid.uuid4(), project_id=cancelled, grant_id=gid,
        kind="advance", amount_cents=200, paid_on=date(2021, 3, 20), created_by="x",
    )  # fmt: skip
    accepted = dossier("c75", "3c", "accepted", utc("2021-04-05", 10), 1_000, 5, 50)
    grant(accepted, 800, 0, 0, "active", utc("2021-04-30", 22, 30))
    nothing_paid = dossier("c75", "3a", "cancelled", utc("2021-04-06", 10), 400, 3, 30)
    grant(nothing_paid, 300, 0, 300, "cancelled", utc("2021-05-01", 8))
    return ids


EXPECTED_COUNTERS = {
    ("13", "status", "draft"): (1, 0),
    ("13", "status", "submitted"): (1, 0),
    ("13", "status", "cancelled"): (1, 0),
    ("13", "strand", "3c"): (2, 700),  # the draft requests nothing yet
    ("13", "strand", "3b"): (1, 500),
    ("13", "kind", "commune"): (2, 1_200),
    ("13", "submissions", "2021-03"): (2, 0),
    # §5: the cancelled grant counts for what it paid
    ("13", "granted_strand", "3c"): (1, 200),
    ("13", "granted_kind", "commune"): (1, 200),
    ("13", "commitments", "2021-03"): (1, 200),
    ("13", "payments", "2021-03"): (1, 200),
    ("75", "status", "accepted"): (1, 0),
    ("75", "status", "cancelled"): (1, 0),
    ("75", "strand", "3c"): (1, 1_000),
    ("75", "strand", "3a"): (1, 400),
    ("75", "kind", "epci"): (2, 1_400),
    ("75", "submissions", "2021-04"): (2, 0),
    ("75", "granted_strand", "3c"): (1, 800),
    ("75", "granted_kind", "epci"): (1, 800),  # the grant that paid nothing is not funded
    ("75", "commitments", "2021-04"): (1, 800),
    ("75", "impact", "agents"): (5, 0),  # cancelled projects reach no one
    ("75", "impact", "users"): (50, 0),
}


async def test_issue_28_upgrade_counts_what_exists(url: str) -> None:
    cfg = _config(url)
    before = ScriptDirectory.from_config(cfg).get_revision(REVISION).down_revision
    assert isinstance(before, str)
    await asyncio.to_thread(command.upgrade, cfg, before)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            ids = await connection.run_sync(_seed)
        await asyncio.to_thread(command.upgrade, cfg, REVISION)
        async with engine.connect() as connection:
            # at this revision, the counters are not yet per programme (R-PROG-2 came after)
            tables: Any = await connection.run_sync(
                lambda c: counters_and_scratch(c, by_programme=False)
            )
        (counters, scratch), (beneficiaries, scratch_b), (projects, scratch_p) = tables
        assert counters == EXPECTED_COUNTERS
        assert counters == scratch
        assert (
            beneficiaries
            == scratch_b
            == {
                ("13", ids["c13"], ids["programme"]): (1,),
                ("75", ids["c75"], ids["programme"]): (1,),
            }
        )
        assert projects == scratch_p and len(projects) == 5
        await asyncio.to_thread(command.downgrade, cfg, before)
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: sa.inspect(c).get_table_names())
        assert not {"stats_counter", "stats_beneficiary", "stats_project"} & set(names)
    finally:
        await engine.dispose()
