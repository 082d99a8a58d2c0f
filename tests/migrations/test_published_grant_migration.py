"""Issue 28: the migration that creates the published rows fills them from the data already
there (both backends), as the export computed them at read time: one row per grant with a
signed convention (none without), its net amount (§5: a cancelled grant that paid nothing
keeps a row at 0, unpublished), the schedule's due dates, and the latest stamp of what it
shows."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest_asyncio
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.core.migrations import alembic_config
from app.opendata.publish import computed
from app.opendata.repository import PUBLISHED, ROW_COLUMNS, computed_rows_stmt
from tests.migrations.rows import insert_row
from tests.support import create_database, drop_database

AFTER = "b7510a7843a2"  # the migration under test; it runs from its own down revision
LATEST = datetime(2021, 7, 14, 9, 30, tzinfo=UTC)
EARLIER = datetime(2021, 6, 1, 8, tzinfo=UTC)


@pytest_asyncio.fixture(loop_scope="session")
async def empty_url(tmp_path: Path) -> Any:
    url = await create_database(tmp_path, "published_rows")
    try:
        yield url
    finally:
        await drop_database(url)


def _due(*days: str | None) -> list[dict[str, Any]]:
    return [
        {"label": "Versement", "kind": "instalment", "amount_cents": 100, "due_on": day}
        for day in days
    ]


# project key: (granted, released, status, convention schedule or None: no convention)
GRANTS: dict[str, tuple[int, int, str, list[dict[str, Any]] | None]] = {
    "active": (1_000_000, 0, "active", _due("2021-09-30", "2021-03-20")),
    "settled": (800_000, 200_000, "closed", _due("2021-10-01")),
    "paid_then_cancelled": (500_000, 400_000, "cancelled", []),
    "cancelled": (300_000, 300_000, "cancelled", _due("2021-05-01")),
    "no_convention": (200_000, 0, "active", None),
}


def _seed(connection: Connection) -> None:
    programme, envelope, candidate = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    insert_row(connection, "programme", id=programme, code="FITN7", version=1)
    insert_row(
        connection, "envelope", id=envelope, programme_id=programme, departement="13",
        prefecture_name="Préfecture des Bouches-du-Rhône", prefecture_siret="17130001400012",
        allocated_cents=10_000_000, committed_cents=0, version=1, updated_at=EARLIER,
    )  # fmt: skip
    insert_row(
        connection, "candidate", id=candidate, siret="21130055300016", siren="211300553",
        name="Marseille", verification="verified", updated_at=EARLIER,
    )  # fmt: skip
    for n, (key, (amount, released, status, schedule)) in enumerate(GRANTS.items()):
        project = uuid.uuid4()
        insert_row(
            connection, "project", id=project, candidate_id=candidate, programme_id=programme,
            strand="3c" if n % 2 else "3b", title=f"Projet {key}", version=1,
            updated_at=LATEST if key == "active" else EARLIER,
        )  # fmt: skip
        insert_row(
            connection, "project_grant", id=uuid.uuid4(), project_id=project,
            envelope_id=envelope, amount_cents=amount, paid_cents=amount - released,
            released_cents=released, status=status, reference=f"Comité {n}",
            eligible_cost_cents=2 * amount, aid_rate_bps=10_000, advance_cap_bps=3_000,
            pre_final_payment_cap_bps=8_000, programme_version=1, updated_at=EARLIER,
        )  # fmt: skip
        if schedule is not None:
            insert_row(
                connection, "convention", id=uuid.uuid4(), project_id=project,
                reference=f"CRTE-{n}", kind="crte", signed_on=date(2021, 3, 15 + n),
                schedule=schedule, created_at=EARLIER,
            )  # fmt: skip


async def test_existing_grants_get_their_published_rows(empty_url: str) -> None:
    cfg = alembic_config(empty_url)
    cfg.attributes["skip_logging"] = True
    before = ScriptDirectory.from_config(cfg).get_revision(AFTER).down_revision
    assert isinstance(before, str)
    await asyncio.to_thread(command.upgrade, cfg, before)
    engine = create_async_engine(empty_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_seed)
        await asyncio.to_thread(command.upgrade, cfg, AFTER)
        # Compared with today's computation (its columns): carried to the head, where the rows
        # have every column the code reads (R-PROG-1 added the programme's dispositif since).
        await asyncio.to_thread(command.upgrade, cfg, "head")
        async with engine.connect() as connection:
            stored = {
                row[0]: tuple(row)
                for row in await connection.execute(
                    select(*(PUBLISHED.c[name] for name in ROW_COLUMNS))
                )
            }
            stamps = {
                row[0]: row[1]
                for row in await connection.execute(
                    select(PUBLISHED.c.title, PUBLISHED.c.updated_at)
                )
            }
            expected = {
                row[0]: computed(row) for row in await connection.execute(computed_rows_stmt())
            }
    finally:
        await engine.dispose()
    # what the export computed at read time, for every grant with a convention
    assert stored == expected
    by_title = {row[8]: row for row in stored.values()}
    assert sorted(by_title) == [
        "Projet active", "Projet cancelled", "Projet paid_then_cancelled", "Projet settled",
    ]  # fmt: skip
    active = by_title["Projet active"]
    assert (active[9], active[10:13]) == (1_000_000, (2, date(2021, 3, 20), date(2021, 9, 30)))
    assert by_title["Projet settled"][9:13] == (600_000, 1, date(2021, 10, 1), date(2021, 10, 1))
    assert by_title["Projet paid_then_cancelled"][9:13] == (100_000, 0, None, None)
    assert by_title["Projet cancelled"][9] == 0  # kept, unpublished (§5)
    # the latest change of what the row shows: the dossier's, for the active grant
    assert stamps["Projet active"] == LATEST
    assert stamps["Projet settled"] == EARLIER
