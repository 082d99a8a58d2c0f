"""Issue 27 §1, R-ELIG-8: `python -m app clock show|set|advance` moves a development database's
clock forward only, is refused in production, is audited, and a running development server
sees the move without a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.clock import PARIS
from app.core.clock_moves import ClockMoveRefused, parse_days, parse_instant
from app.core.db import CLOCK_REREAD_SECONDS
from app.demo.cast import siret_of
from tests.contract.test_readme_walkthrough import free_port
from tests.support import TEST_AUDIT_KEY, TEST_SECRET, create_database, drop_database

ROOT = Path(__file__).resolve().parents[2]
START = "2021-03-01T09:00:00+01:00"
SLACK = timedelta(minutes=2)


def environ(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    return env | {
        "GUICHET_DATABASE_URL": url,
        "GUICHET_CLOCK_START": START,
        "GUICHET_JWT_SECRET": TEST_SECRET,
        "GUICHET_AUDIT_KEYS": json.dumps({"test": TEST_AUDIT_KEY}),  # R-AUDIT-1
        **extra,
    }


def app_cli(url: str, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the project's own interpreter, fixed argv
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=environ(url, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


async def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in (await connection.execute(text(sql))).all()]
    finally:
        await engine.dispose()


async def service_now(url: str) -> datetime:
    ((offset_us,),) = await rows(url, "SELECT offset_us FROM service_clock")
    return datetime.now(UTC) + timedelta(microseconds=int(str(offset_us)))


def test_dates_and_days_are_read_as_people_write_them() -> None:
    assert parse_instant("2026-06-15") == datetime(2026, 6, 15, 9, 0, tzinfo=PARIS)
    assert parse_instant("2026-06-15T14:00:00+02:00").hour == 14
    assert parse_days("30d") == parse_days("30") == timedelta(days=30)
    for wrong in ("2026-06-15T14:00:00", "juin 2026"):
        with pytest.raises(ClockMoveRefused):
            parse_instant(wrong)
    for wrong in ("0d", "-3d", "trente"):
        with pytest.raises(ClockMoveRefused, match="au moins un"):
            parse_days(wrong)


async def test_the_clock_moves_forward_and_each_move_is_audited(tmp_path: Path) -> None:
    url = await create_database(tmp_path, "clock_cli")
    try:
        for command in ("migrate", "seed"):
            assert app_cli(url, command).returncode == 0
        shown = app_cli(url, "clock", "show")
        assert shown.returncode == 0, shown.stderr
        assert "horloge du service : 2021-03-01T09:" in shown.stdout

        moved = app_cli(url, "clock", "set", "2021-09-01")
        assert moved.returncode == 0, moved.stderr
        assert "→ 2021-09-01T09:00:00+02:00" in moved.stdout
        now = await service_now(url)
        target = datetime(2021, 9, 1, 9, 0, tzinfo=PARIS)
        assert target <= now < target + SLACK

        advanced = app_cli(url, "clock", "advance", "30d")
        assert advanced.returncode == 0, advanced.stderr
        now = await service_now(url)
        assert target + timedelta(days=30) <= now < target + timedelta(days=30) + SLACK

        # backward: refused in French, nothing stored
        back = app_cli(url, "clock", "set", "2021-09-15")
        assert back.returncode == 1
        assert "ne recule jamais" in back.stderr
        assert (await service_now(url)) >= target + timedelta(days=30)

        events = await rows(
            url,
            "SELECT actor_subject, actor_role, departement, action, before, after "
            "FROM audit_event WHERE object_type = 'clock' ORDER BY seq",
        )
        assert [(e[0], e[1], e[2], e[3]) for e in events] == [
            ("console", "dinum", None, "moved"),
            ("console", "dinum", None, "moved"),
        ]
        first_after = events[0][5]
        after = json.loads(first_after) if isinstance(first_after, str) else first_after
        assert after["now"] == "2021-09-01T09:00:00+02:00"  # type: ignore[index]
    finally:
        await drop_database(url)


def test_production_refuses_the_clock(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'prod.db'}"
    production = {
        "GUICHET_ENVIRONMENT": "production",
        "GUICHET_CLOCK_START": "",
        "GUICHET_JWT_SECRET": "k" * 64,
        "GUICHET_AUDIT_KEYS": json.dumps({"k": "k" * 64}),
        "GUICHET_DOCUMENTS_SCANNER_URL": "unix:///run/clamav/clamd.ctl",  # R-DOC-2
    }
    for args in (("set", "2030-01-01"), ("advance", "1d")):
        refused = app_cli(url, "clock", *args, **production)
        assert refused.returncode == 1, refused.stderr
        assert "refusée en production" in refused.stderr


async def test_a_running_development_server_sees_the_move(tmp_path: Path) -> None:
    url = await create_database(tmp_path, "clock_server")
    try:
        for command in ("migrate", "seed"):
            assert app_cli(url, command).returncode == 0
        port = free_port()
        env = environ(url, GUICHET_ENVIRONMENT="development", GUICHET_RATE_LIMIT_ENABLED="false")
        server = subprocess.Popen(  # noqa: S603 - fixed argv, the project's own interpreter
            [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}/api/v1"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).is_success:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)

            def register(siren: str) -> datetime:
                token = app_cli(url, "token", "--role", "candidate", "--siren", siren).stdout
                response = httpx.post(
                    f"{base}/candidates",
                    json={"siret": siret_of(siren), "kind": "commune"},
                    headers={"Authorization": f"Bearer {token.strip()}"},
                    timeout=30,
                )
                assert response.status_code == 201, response.text
                return datetime.fromisoformat(response.json()["created_at"])

            before = register("211300553")  # Marseille
            start = datetime.fromisoformat(START)
            assert start <= before < start + SLACK
            assert app_cli(url, "clock", "advance", "30d").returncode == 0
            time.sleep(CLOCK_REREAD_SECONDS + 0.5)
            after = register("211300017")  # Aix-en-Provence, on the moved clock
            assert before + timedelta(days=30) <= after < before + timedelta(days=30) + SLACK
        finally:
            server.terminate()
            server.wait(timeout=10)
    finally:
        await drop_database(url)
