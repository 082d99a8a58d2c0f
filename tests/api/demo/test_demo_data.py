"""Issues 12 and 27 §1: `python -m app demo` replays a story through the API on a fresh database.

Run as `make run` runs it (migrate, seed, demo, at the Makefile's clock), in a subprocess. A small
story (`--scale`) checks the shape quickly: every state of R-FLOW-1 a dossier rests in, on FITN7
and its twelve départements, NT2026 opened by DINUM with its own dossiers, candidates of every
kind, the syndicat left to verify (R-REF-2), dates spread over 2021–2022, and the service's clock
moved on to the story's end (never back). One test replays the full story and checks what it
promises: a few hundred dossiers, committees every month, payments on their schedule, a
cancellation, a settlement below the grant, and a national dashboard whose monthly series spans
2021–2022. A second run adds nothing; production refuses it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.clock import PARIS
from app.demo import DEMO_END
from app.demo.cast import DEPARTEMENTS
from app.demo.timeline import FITN7, NT2026
from app.main import create_app
from app.projects.lifecycle_rules import Status
from tests.contract.test_readme_walkthrough import makefile_clock_start
from tests.support import TEST_AUDIT_KEY, TEST_SECRET, create_database, drop_database

ROOT = Path(__file__).resolve().parents[3]
RESTING = {s.value for s in Status} - {Status.PAID.value}  # `paid` is passed through at once
SMALL = "0.15"


def run(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    environ |= {
        "GUICHET_DATABASE_URL": url,
        "GUICHET_CLOCK_START": makefile_clock_start(),
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
        timeout=900,
    )


async def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in (await connection.execute(text(sql))).all()]
    finally:
        await engine.dispose()


def by_programme(sql_tail: str) -> str:
    return (
        "SELECT g.code, p.status, count(*) FROM project p JOIN programme g "
        f"ON g.id = p.programme_id {sql_tail} GROUP BY 1, 2"
    )


async def loaded(tmp_path: Path, name: str, *demo_args: str) -> str:
    url = await create_database(tmp_path, name)
    for command in ("migrate", "seed"):
        done = run(url, command)
        assert done.returncode == 0, done.stderr
    first = run(url, "demo", *demo_args)
    assert first.returncode == 0, first.stderr
    assert "données de démonstration chargées" in first.stdout
    print(first.stdout)  # noqa: T201 - the load's figures, in the test's output
    return url


def instant(value: object) -> datetime:
    """A timestamp column as either database returns it (SQLite: text in UTC)."""
    read = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return read if read.tzinfo else read.replace(tzinfo=UTC)


async def service_now(url: str) -> datetime:
    ((offset_us,),) = await rows(url, "SELECT offset_us FROM service_clock")
    return datetime.now(UTC) + timedelta(microseconds=int(str(offset_us)))


async def test_a_small_story_has_every_state_both_programmes_and_its_clock(
    tmp_path: Path,
) -> None:
    url = await loaded(tmp_path, "demo_small", "--scale", SMALL)
    try:
        states = await rows(url, by_programme(""))
        assert {s for (code, s, _) in states if code == FITN7} == RESTING
        nt2026 = {s for (code, s, _) in states if code == NT2026}
        assert {"submitted", "in_review", "accepted", "under_convention", "rejected"} <= nt2026
        # DINUM drafted and published NT2026 through the API in January 2026
        ((status, created),) = await rows(
            url, f"SELECT status, created_at FROM programme WHERE code = '{NT2026}'"
        )
        assert status == "published"
        assert instant(created).astimezone(PARIS).date() == date(2026, 1, 12)
        envelopes = await rows(
            url,
            "SELECT g.code, e.departement FROM envelope e JOIN programme g "
            "ON g.id = e.programme_id",
        )
        assert {d for (code, d) in envelopes if code == FITN7} == set(DEPARTEMENTS)
        assert {"13", "33"} <= {d for (code, d) in envelopes if code == NT2026}
        assert len(DEPARTEMENTS) == 12 and {"2A", "2B", "971", "974"} <= set(DEPARTEMENTS)
        kinds = await rows(url, "SELECT kind, verification, count(*) FROM candidate GROUP BY 1, 2")
        assert ("syndicat", "to_verify", 1) in kinds  # R-REF-2: left for the prefect of the 13
        assert {k for (k, _, _) in kinds} == {
            "commune",
            "epci",
            "departement",
            "region",
            "syndicat",
            "public_body",
            "collectivite_outre_mer",
        }
        # the dates spread over the story: submissions in many months of 2021 and 2022
        months = await rows(
            url,
            "SELECT DISTINCT substr(CAST(submitted_at AS TEXT), 1, 7) FROM project "
            "WHERE submitted_at IS NOT NULL",
        )
        spread = {str(m) for (m,) in months}
        assert len({m for m in spread if m.startswith("2021")}) >= 6
        assert len({m for m in spread if m.startswith("2022")}) >= 6
        assert {m for m in spread if m.startswith("2026")} == {"2026-02"}
        # the service's clock reads the story's end: nothing is dated in its future
        now = await service_now(url)
        assert DEMO_END <= now < DEMO_END + timedelta(minutes=5)
        ((latest,),) = await rows(url, "SELECT max(at) FROM project_transition")
        assert instant(latest) < DEMO_END
        moved = await rows(url, "SELECT actor_subject FROM audit_event WHERE object_type = 'clock'")
        assert moved == [("demo-dinum",)]  # R-AUDIT-1: the demo's move of the clock

        again = run(url, "demo")
        assert again.returncode == 1
        assert "déjà chargées" in again.stderr
        quiet = run(url, "demo", "--if-empty")
        assert quiet.returncode == 0, quiet.stderr
        assert sum(n for (_, _, n) in await rows(url, by_programme(""))) == sum(
            n for (_, _, n) in states
        )  # nothing duplicated
    finally:
        await drop_database(url)


@pytest_asyncio.fixture(scope="module")
async def full_story(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    started = time.monotonic()
    url = await loaded(tmp_path_factory.mktemp("demo"), "demo_full")
    print(f"demo chargée en {time.monotonic() - started:.1f} s")  # noqa: T201
    yield url
    await drop_database(url)


async def test_the_full_story_lives_in_time(full_story: str) -> None:
    url = full_story
    states = await rows(url, by_programme(""))
    fitn7 = {s: n for (code, s, n) in states if code == FITN7}
    assert sum(fitn7.values()) >= 200  # a few hundred dossiers
    assert set(fitn7) == RESTING, fitn7
    # committees every month of the story, closed
    months = await rows(
        url,
        "SELECT DISTINCT substr(CAST(meeting_on AS TEXT), 1, 7) FROM committee "
        "WHERE status = 'closed'",
    )
    held = {str(m) for (m,) in months}
    month, expected = date(2021, 2, 1), set()
    while month <= date(2022, 11, 1):
        expected.add(month.isoformat()[:7])
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    assert expected <= held, sorted(expected - held)
    # payments follow their convention's schedule: each on the day an item of its kind falls due
    schedules = {
        str(project): json.loads(s) if isinstance(s, str) else s
        for (project, s) in await rows(url, "SELECT project_id, schedule FROM convention")
    }
    payments = await rows(url, "SELECT project_id, kind, paid_on, amount_cents FROM payment")
    assert len(payments) >= 100
    for project, kind, paid_on, cents in payments:
        due = {(i["kind"], i["due_on"]) for i in schedules[str(project)]}
        if kind != "balance":
            assert (kind, str(paid_on)) in due, (project, kind, paid_on)
        assert int(str(cents)) > 0
    # a cancellation after an advance: its unpaid rest released (R-CAP-5)
    cancelled = await rows(
        url,
        "SELECT g.paid_cents, g.released_cents, g.amount_cents FROM project_grant g "
        "JOIN project p ON p.id = g.project_id WHERE p.status = 'cancelled'",
    )
    assert any(
        int(str(paid)) > 0 and int(str(paid)) + int(str(rel)) == int(str(amount))
        for paid, rel, amount in cancelled
    )
    # a settlement below the grant: completed, paid less than granted, the rest released
    below = await rows(
        url,
        "SELECT g.paid_cents, g.amount_cents FROM project_grant g JOIN project p "
        "ON p.id = g.project_id WHERE p.status = 'completed' AND g.paid_cents < g.amount_cents",
    )
    assert below
    # NT2026's schedules run past the story's end: an integrator walks them with `clock`
    nt2026_due = await rows(
        url,
        "SELECT c.schedule FROM convention c JOIN project p ON p.id = c.project_id "
        f"JOIN programme g ON g.id = p.programme_id WHERE g.code = '{NT2026}'",
    )
    assert nt2026_due
    for (schedule,) in nt2026_due:
        items = json.loads(schedule) if isinstance(schedule, str) else schedule
        assert any(i["due_on"] > DEMO_END.date().isoformat() for i in items)  # type: ignore[union-attr]


async def test_the_national_dashboard_draws_2021_and_2022(full_story: str) -> None:
    """The dashboard page's monthly curves (`/stats/national?group_by=month`) have points in
    most months of 2021 and 2022, not one dot."""
    from app.core.config import Settings
    from app.core.security import encode_access_token

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=full_story, jwt_secret=TEST_SECRET, environment="test"
    )
    app = create_app(settings)
    token = encode_access_token(settings, sub="demo-dinum", role="dinum")
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get(
                "/api/v1/stats/national",
                params={"group_by": "month", "from": "2021-01-01", "to": "2022-12-31"},
                headers={"Authorization": f"Bearer {token}"},
            )
    finally:
        await app.state.engine.dispose()
    assert response.status_code == 200, response.text
    series = response.json()["series"]
    submitted = {m["month"] for m in series if m["submissions"]}
    committed = {m["month"] for m in series if m["commitments"]}
    paid = {m["month"] for m in series if m["payments"]}
    for year in ("2021", "2022"):
        assert len({m for m in submitted if m.startswith(year)}) >= 10, sorted(submitted)
        assert len({m for m in committed if m.startswith(year)}) >= 8, sorted(committed)
        assert len({m for m in paid if m.startswith(year)}) >= 6, sorted(paid)


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


async def test_an_integrator_walks_an_nt2026_schedule_with_the_clock(full_story: str) -> None:
    """Issue 27 §1: after the load, `clock set` to an instalment's due day, and the prefect
    records that payment on that day (R-PAY-3: not in the future, not before the convention)."""
    from app.core.config import Settings
    from app.core.security import encode_access_token

    url = full_story
    ((project, schedule),) = await rows(
        url,
        "SELECT p.id, c.schedule FROM convention c JOIN project p ON p.id = c.project_id "
        "JOIN programme g ON g.id = p.programme_id JOIN candidate k ON k.id = p.candidate_id "
        f"WHERE g.code = '{NT2026}' AND k.siren = '211300017'",  # Aix-en-Provence
    )
    items = json.loads(schedule) if isinstance(schedule, str) else schedule
    (instalment,) = [i for i in items if i["kind"] == "instalment"]  # type: ignore[union-attr]
    assert instalment["due_on"] == "2026-06-15"  # as the README says
    early = run(url, "clock", "show")
    assert "horloge du service : 2026-03-16T" in early.stdout, early.stdout
    moved = run(url, "clock", "set", instalment["due_on"])
    assert moved.returncode == 0, moved.stderr

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=url, jwt_secret=TEST_SECRET, environment="test"
    )
    app = create_app(settings)
    token = encode_access_token(settings, sub="demo-prefet-13", role="prefect", departement="13")
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            paid = await client.post(
                f"/api/v1/projects/{uuid.UUID(str(project))}/payments",
                json={
                    "kind": "instalment",
                    "amount_cents": instalment["amount_cents"],
                    "paid_on": instalment["due_on"],
                },
                headers={"Authorization": f"Bearer {token}"},
            )
    finally:
        await app.state.engine.dispose()
    assert paid.status_code == 201, paid.text
