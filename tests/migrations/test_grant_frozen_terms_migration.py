"""R-PAY-4: the migration that freezes grant terms carries existing grants over (both backends):
eligible cost and forfait from the accepted agenda item (else the eligible cost is the granted
amount), caps, aid rate and programme version from the programme, grid version from the
strand's latest grid."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest_asyncio
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    text,
)
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.core.migrations import alembic_config
from tests.migrations.rows import insert_row
from tests.support import create_database, drop_database

AFTER = "7c1e4f0a9b23"  # the migration under test; it runs from its own down revision


@pytest_asyncio.fixture(loop_scope="session")
async def empty_url(tmp_path: Path) -> Any:
    url = await create_database(tmp_path, "frozen_terms")
    try:
        yield url
    finally:
        await drop_database(url)


def _seed(connection: Connection) -> dict[str, uuid.UUID]:
    ids = {k: uuid.uuid4() for k in ("programme", "envelope", "candidate", "p1", "p2", "c")}
    insert_row(
        connection, "programme", id=ids["programme"], code="FITN7", funding_cap_rate_bps=10_000,
        extra_eu_licence_share_cap_bps=1_000, advance_cap_bps=2_500,
        pre_final_payment_cap_bps=7_500, version=4,
    )  # fmt: skip
    insert_row(
        connection, "envelope", id=ids["envelope"], programme_id=ids["programme"],
        departement="13", allocated_cents=10_000_000, committed_cents=1_500_000, version=1,
    )  # fmt: skip
    insert_row(
        connection,
        "candidate",
        id=ids["candidate"],
        siret="21130055300016",
        siren="211300553",
        verification="verified",
    )
    for key, strand in (("p1", "3c"), ("p2", "3b")):
        insert_row(
            connection, "project", id=ids[key], candidate_id=ids["candidate"],
            programme_id=ids["programme"], strand=strand, version=1,
        )  # fmt: skip
    insert_row(
        connection, "scoring_grid", id=uuid.uuid4(), programme_id=ids["programme"],
        strand="3c", version=1,
    )  # fmt: skip
    insert_row(
        connection, "scoring_grid", id=uuid.uuid4(), programme_id=ids["programme"],
        strand="3c", version=2,
    )  # fmt: skip
    insert_row(
        connection, "committee", id=ids["c"], programme_id=ids["programme"], departement="13",
        status="closed", version=1,
    )  # fmt: skip
    insert_row(
        connection, "committee_agenda_item", id=uuid.uuid4(), committee_id=ids["c"],
        project_id=ids["p1"], is_open=False, outcome="accepted", granted_cents=1_000_000,
        eligible_cost_cents=2_000_000, forfait_cents=1_000_000,
    )  # fmt: skip
    for key, amount in (("p1", 1_000_000), ("p2", 500_000)):
        insert_row(
            connection, "project_grant", id=uuid.uuid4(), project_id=ids[key],
            envelope_id=ids["envelope"], amount_cents=amount, status="active",
        )  # fmt: skip
    return ids


async def test_r_pay_4_existing_grants_get_their_terms(empty_url: str) -> None:
    cfg = alembic_config(empty_url)
    cfg.attributes["skip_logging"] = True
    before = ScriptDirectory.from_config(cfg).get_revision(AFTER).down_revision
    assert isinstance(before, str)
    await asyncio.to_thread(command.upgrade, cfg, before)
    engine = create_async_engine(empty_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            ids = await connection.run_sync(_seed)
        await asyncio.to_thread(command.upgrade, cfg, AFTER)
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT amount_cents, eligible_cost_cents, aid_rate_bps, forfait_cents, "
                        "forfait_tier, advance_cap_bps, pre_final_payment_cap_bps, "
                        "programme_version, grid_version FROM project_grant "
                        "ORDER BY amount_cents DESC"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    assert ids  # seeded
    assert [tuple(r) for r in rows] == [
        # decided by a committee: its agenda item's eligible cost and forfait; 3c grid v2
        (1_000_000, 2_000_000, 10_000, 1_000_000, None, 2_500, 7_500, 4, 2),
        # no agenda item: the granted amount as eligible cost; no 3b grid
        (500_000, 500_000, 10_000, None, None, 2_500, 7_500, 4, None),
    ]
