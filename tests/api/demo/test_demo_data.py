"""Issue 12: `python -m app demo` loads the demonstration data set on a fresh database.

Run as `make run` runs it (migrate, seed, demo, at the Makefile's clock), in a subprocess: every
state of R-FLOW-1 but the transient `paid` (the balance pays a dossier off at once), in each
strand, three départements with envelopes, the syndicat left to verify (R-REF-2), evaluations,
closed committees that accepted and rejected dossiers (R-COM-3), conventions and payments. A
second run adds nothing: it refuses, clearly, and `--if-empty` (make run) passes quietly.
Production refuses it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.demo import DEPARTEMENTS, STRANDS, TARGETS
from tests.support import TEST_AUDIT_KEY, TEST_SECRET, create_database, drop_database

ROOT = Path(__file__).resolve().parents[3]
CLOCK_START = "2021-03-01T09:00:00+01:00"


def run(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    environ |= {
        "GUICHET_DATABASE_URL": url,
        "GUICHET_CLOCK_START": CLOCK_START,
        "GUICHET_JWT_SECRET": TEST_SECRET,
        "GUICHET_AUDIT_KEYS": json.dumps({"test": TEST_AUDIT_KEY}),  # R-AUDIT-1
        **env,
    }
    return subprocess.run(  # noqa: S603 - the project's own interpreter, fixed argv
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
    )


async def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in (await connection.execute(text(sql))).all()]
    finally:
        await engine.dispose()


async def test_the_demo_loads_every_state_of_every_strand_once(tmp_path: Path) -> None:
    url = await create_database(tmp_path, "demo")
    try:
        for command in ("migrate", "seed"):
            assert run(url, command).returncode == 0
        first = run(url, "demo")
        assert first.returncode == 0, first.stderr
        assert "données de démonstration chargées" in first.stdout

        states = await rows(url, "SELECT strand, status, count(*) FROM project GROUP BY 1, 2")
        expected = {(strand, target.value, 1) for strand in STRANDS for target in TARGETS}
        assert set(states) == expected
        deps = await rows(url, "SELECT DISTINCT departement FROM project ORDER BY 1")
        assert [d for (d,) in deps] == sorted(DEPARTEMENTS)
        envelopes = await rows(url, "SELECT departement FROM envelope ORDER BY 1")
        assert [d for (d,) in envelopes] == sorted(DEPARTEMENTS)
        kinds = await rows(url, "SELECT kind, verification, count(*) FROM candidate GROUP BY 1, 2")
        assert ("syndicat", "to_verify", 1) in kinds
        assert {k for (k, _, _) in kinds} >= {"commune", "epci", "syndicat"}
        # evaluations for every dossier that went under review, ANCT's too on 3b
        evaluated = await rows(url, "SELECT count(DISTINCT project_id) FROM evaluation")
        assert evaluated[0][0] == len(STRANDS) * 7
        closed = await rows(url, "SELECT count(*) FROM committee WHERE status = 'closed'")
        assert closed[0][0] >= 1
        outcomes = await rows(url, "SELECT DISTINCT outcome FROM committee_agenda_item")
        assert {o for (o,) in outcomes} >= {"accepted", "rejected"}
        mixed = await rows(
            url,
            "SELECT i.committee_id FROM committee_agenda_item i JOIN committee c "
            "ON c.id = i.committee_id WHERE c.status = 'closed' GROUP BY i.committee_id "
            "HAVING count(DISTINCT i.outcome) >= 2",
        )
        assert mixed, "no closed committee both accepted and rejected dossiers"
        payments = await rows(url, "SELECT kind, count(*) FROM payment GROUP BY 1 ORDER BY 1")
        assert dict(payments) == {"advance": 3 * len(STRANDS), "balance": len(STRANDS)}

        again = run(url, "demo")
        assert again.returncode == 1
        assert "déjà chargées" in again.stderr
        quiet = run(url, "demo", "--if-empty")
        assert quiet.returncode == 0, quiet.stderr
        count = await rows(url, "SELECT count(*) FROM project")
        assert count[0][0] == len(STRANDS) * len(TARGETS)  # nothing duplicated
    finally:
        await drop_database(url)


async def test_the_demo_is_refused_in_production(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'prod.db'}"
    production = {
        "GUICHET_ENVIRONMENT": "production",
        "GUICHET_CLOCK_START": "",
        "GUICHET_DOCUMENTS_SCANNER_URL": "unix:///run/clamav/clamd.ctl",  # R-DOC-2
    }
    refused = run(url, "demo", **production)
    assert refused.returncode == 1
    assert "refusées en production" in refused.stderr
    quiet = run(url, "demo", "--if-empty", **production)
    assert quiet.returncode == 1  # even make run's form refuses in production


async def test_demo_data_false_keeps_make_run_on_an_empty_database(tmp_path: Path) -> None:
    url = await create_database(tmp_path, "nodemo")
    try:
        for command in ("migrate", "seed"):
            assert run(url, command).returncode == 0
        skipped = run(url, "demo", "--if-empty", GUICHET_DEMO_DATA="false")
        assert skipped.returncode == 0, skipped.stderr
        assert (await rows(url, "SELECT count(*) FROM project"))[0][0] == 0
    finally:
        await drop_database(url)
