"""The service's clock (R-ELIG-8): GUICHET_CLOCK_START, refused in production, and an offset that
each database fixes at its first start and keeps, so that a restart never rewinds time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import ValidationError
from sqlalchemy import text

from app.auth.principal import Principal, Role
from app.core.clock import PARIS, ClockRefused
from app.core.config import Settings
from app.main import create_app
from app.programme.service import seed_programme
from tests.support import (
    auth_headers,
    create_database,
    drop_database,
    file_required_documents,
    migrate,
    test_settings,
)

STRONG_SECRET = "k" * 64
START = datetime(2021, 3, 1, 9, 0, tzinfo=PARIS)
CANDIDATE = Principal("agent-marseille", Role.CANDIDATE, siren="211300553")
DAY = timedelta(days=1)
SLACK = timedelta(minutes=5)


@pytest.fixture(autouse=True)
def _no_clock_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GUICHET_ENVIRONMENT", "GUICHET_CLOCK_START", "GUICHET_JWT_SECRET"):
        monkeypatch.delenv(name, raising=False)


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


# -- the setting --------------------------------------------------------------------------------


def test_r_elig_8_production_refuses_guichet_clock_start(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="GUICHET_CLOCK_START is refused in production"):
        _settings(
            environment="production",
            jwt_secret=STRONG_SECRET,
            clock_start=START,
            documents_scanner_url="unix:///run/clamav/clamd.ctl",
        )
    monkeypatch.setenv("GUICHET_ENVIRONMENT", "production")
    monkeypatch.setenv("GUICHET_JWT_SECRET", STRONG_SECRET)
    monkeypatch.setenv("GUICHET_AUDIT_KEYS", '{"k": "' + STRONG_SECRET + '"}')  # R-AUDIT-1
    monkeypatch.setenv("GUICHET_DOCUMENTS_SCANNER_URL", "unix:///run/clamav/clamd.ctl")
    monkeypatch.setenv("GUICHET_CLOCK_START", "2021-03-01T09:00:00+01:00")
    with pytest.raises(ValidationError, match="GUICHET_CLOCK_START"):
        _settings()
    monkeypatch.setenv("GUICHET_CLOCK_START", "")  # `make run CLOCK_START=`: unset
    assert _settings().clock_start is None


def test_guichet_clock_start_is_an_instant_with_its_offset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GUICHET_CLOCK_START", "2021-03-01T09:00:00+01:00")
    assert _settings().clock_start == START
    monkeypatch.setenv("GUICHET_CLOCK_START", "2021-03-01T09:00:00")
    with pytest.raises(ValidationError, match="UTC offset"):
        _settings()
    monkeypatch.setenv("GUICHET_CLOCK_START", "mars 2021")
    with pytest.raises(ValidationError):
        _settings()


# -- the offset, fixed once per database --------------------------------------------------------


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    url = await create_database(tmp_path, "clock")
    await migrate(url)
    yield url
    await drop_database(url)


async def started(settings: Settings) -> FastAPI:
    """An instance started as uvicorn starts it (its lifespan reads or fixes the clock)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        clock = app.state.clock
    app.state.clock = clock  # kept after the engine is disposed, for the next requests
    return app


async def stored_offset(url: str, **shift: timedelta) -> timedelta:
    """The stored offset; `shift=` moves the first start back as if it happened that long ago."""
    app = create_app(test_settings(url))
    try:
        async with app.state.engine.begin() as connection:
            if "ago" in shift:
                await connection.execute(
                    text("UPDATE service_clock SET offset_us = offset_us + :us"),
                    {"us": shift["ago"] // timedelta(microseconds=1)},
                )
            us = (await connection.execute(text("SELECT offset_us FROM service_clock"))).scalar()
        return timedelta(microseconds=us)
    finally:
        await app.state.engine.dispose()


async def submit_a_dossier(app: FastAPI, settings: Settings) -> dict:  # type: ignore[type-arg]
    headers = auth_headers(settings, CANDIDATE)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
        await http.post(
            "/api/v1/candidates",
            json={"siret": "21130055300016", "kind": "commune"},
            headers=headers,
        )
        created = await http.post(
            "/api/v1/projects",
            json={
                "strand": "3c",
                "title": "Prise de rendez-vous",
                "description": "Un service en ligne.",
                "nature": "modernisation",
                "start_on": "2021-06-01",
                "end_on": "2022-06-30",
                "sponsor": {"name": "Mme la Maire", "role": "Maire"},
                "expense_lines": [
                    {"category": "development", "label": "Dév.", "amount_cents": 2_000_000}
                ],
                "requested_cents": 1_000_000,
            },
            headers=headers,
        )
        assert created.status_code == 201, created.text
        await file_required_documents(http, headers, created.json()["id"])  # R-DOC-1
        submitted = await http.post(
            f"/api/v1/projects/{created.json()['id']}/submit",
            headers={**headers, "If-Match": created.headers["ETag"]},
        )
        assert submitted.status_code == 200, submitted.text
        return submitted.json()  # type: ignore[no-any-return]


async def test_r_elig_8_a_restart_continues_the_clock_instead_of_rewinding_it(
    database_url: str,
) -> None:
    settings = test_settings(database_url, clock_start=START)
    first = await started(settings)
    try:
        async with first.state.sessionmaker() as session, session.begin():
            await seed_programme(session)
        assert START <= first.state.clock.now() < START + SLACK
        dossier = await submit_a_dossier(first, settings)
        submitted_at = datetime.fromisoformat(dossier["submitted_at"])
        assert START <= submitted_at < START + SLACK
    finally:
        await first.state.engine.dispose()

    offset = await stored_offset(database_url, ago=DAY)  # the first start was a day ago
    for restart in (
        settings,  # the same setting
        test_settings(database_url, clock_start=START - 30 * DAY),  # changed: ignored
        test_settings(database_url),  # removed: the stored offset still wins
    ):
        again = await started(restart)
        await again.state.engine.dispose()
        assert again.state.clock.offset == offset
        now = again.state.clock.now()
        assert submitted_at + DAY <= now < START + DAY + SLACK, restart.clock_start


async def test_a_database_first_started_on_real_time_stays_on_it(database_url: str) -> None:
    first = await started(test_settings(database_url))
    await first.state.engine.dispose()
    assert first.state.clock.offset == timedelta(0)
    later = await started(test_settings(database_url, clock_start=START))
    await later.state.engine.dispose()
    assert later.state.clock.offset == timedelta(0)
    assert abs(later.state.clock.now() - datetime.now(UTC)) < SLACK


async def test_production_refuses_to_start_on_a_shifted_database(database_url: str) -> None:
    demo = await started(test_settings(database_url, clock_start=START))
    await demo.state.engine.dispose()
    production = create_app(
        test_settings(
            database_url,
            environment="production",
            jwt_secret=STRONG_SECRET,
            documents_scanner_url="unix:///run/clamav/clamd.ctl",
        )
    )
    try:
        with pytest.raises(ClockRefused):
            async with production.router.lifespan_context(production):
                pass
    finally:
        await production.state.engine.dispose()


async def test_production_meeting_a_shifted_database_at_a_request_answers_503(
    database_url: str,
) -> None:
    """The database was unreachable at startup, so the clock is read at the first request:
    a shifted database is refused there too, as a 503 problem (never a 500)."""
    demo = await started(test_settings(database_url, clock_start=START))
    await demo.state.engine.dispose()
    production = create_app(
        test_settings(
            database_url,
            environment="production",
            jwt_secret=STRONG_SECRET,
            documents_scanner_url="unix:///run/clamav/clamd.ctl",
        )
    )
    try:
        assert production.state.clock is None  # as after a startup that could not read it
        transport = ASGITransport(app=production)
        async with AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.get("/api/v1/programme")
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["Retry-After"]
        assert response.json()["code"] == "clock-refused"
        assert production.state.clock is None
    finally:
        await production.state.engine.dispose()


async def test_an_unmigrated_database_defers_the_clock_to_the_first_request(
    tmp_path: Path,
) -> None:
    url = await create_database(tmp_path, "late")
    app = create_app(test_settings(url, clock_start=START))
    try:
        async with app.router.lifespan_context(app):
            assert app.state.clock is None  # started anyway: /readyz says why it is not ready
            transport = ASGITransport(app=app)
            async with AsyncClient(transport=transport, base_url="http://test") as http:
                assert (await http.get("/readyz")).json()["code"] == "migrations-pending"
                await migrate(url)
                assert (await http.get("/readyz")).status_code == 200
            assert START <= app.state.clock.now() < START + SLACK
    finally:
        await app.state.engine.dispose()
        await drop_database(url)
