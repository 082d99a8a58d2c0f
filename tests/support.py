"""Test helpers shared by fixtures and tests: databases, tokens, valid SIRETs."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import datetime
from pathlib import Path

import asyncpg
from alembic import command
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool
from stdnum import luhn

from app.auth.principal import Principal
from app.core.clock import PARIS, Clock
from app.core.config import Settings
from app.core.migrations import alembic_config
from app.core.security import encode_access_token
from app.demo import file_required_documents as file_required_documents

# R-DOC-1: `await file_required_documents(client, headers, project_id, step=...)` uploads, through
# the API, a small PDF for each document the programme asks of the dossier at that step
# ("submission" by its candidate, "convention" and "final_report" by its prefect) that it lacks:
# the helper the demo's loader files them with, shared by the tests and the benchmarks.

TEST_SECRET = "test-secret-0123456789abcdef0123456789abcdef"  # noqa: S105
TEST_AUDIT_KEY = "test-audit-key-0123456789abcdef0123456789"  # noqa: S105
BASE_URL_ENV = "GUICHET_DATABASE_URL"

# R-ELIG-8: the suite runs the 2021 programme (window open from 2021-01-25, results by
# 2022-12-31) on the service's clock. The suite's app starts its clock here (its
# GUICHET_CLOCK_START): the window is open and the dossiers' usual start, 2021-03-01, is still
# ahead. A test that needs another day (a payment, a late submission) calls the `clock_at`
# fixture of tests/conftest.py.
TEST_CLOCK_START = datetime(2021, 2, 15, 10, 0, tzinfo=PARIS)


def clock_starting_at(instant: datetime | str) -> Clock:
    """A clock that reads `instant` now and runs on ("2021-10-02T10:00:00+02:00", or a date
    "2021-10-02", read as 10:00 in Paris)."""
    if isinstance(instant, str):
        instant = datetime.fromisoformat(instant if "T" in instant else f"{instant}T10:00:00")
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=PARIS)
    return Clock.starting_at(instant)


def backend_url() -> str | None:
    """The PostgreSQL URL the suite was asked to run against, if any."""
    url = os.environ.get(BASE_URL_ENV, "")
    return url if url.startswith("postgresql") else None


def test_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "jwt_secret": TEST_SECRET,
        "audit_keys": {"test": TEST_AUDIT_KEY},  # R-AUDIT-1: strong, so production builds too
        "docs_enabled": True,
        "clock_start": None,  # never from the caller's environment; the suite sets its own
        "webhook_worker_enabled": False,  # tests drive app.webhooks.worker.deliver_once
        "notification_worker_enabled": False,  # and app.notifications.worker.deliver_once
        "server_gc_freeze": False,  # many apps in one process: nothing frozen for good
        "server_warm_up": False,  # nor a dashboard computed at each app's start
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


async def _pg_admin(url: str) -> asyncpg.Connection:
    u = make_url(url)
    return await asyncpg.connect(
        user=u.username or "postgres",
        password=u.password,
        host=u.host or "127.0.0.1",
        port=u.port or 5432,
        database="postgres",
    )


async def create_database(tmp_dir: Path, label: str) -> str:
    """A fresh empty database on the selected backend; its URL."""
    suffix = f"{label}_{uuid.uuid4().hex[:8]}"
    base = backend_url()
    if base is None:
        return f"sqlite+aiosqlite:///{tmp_dir / f'{suffix}.db'}"
    u = make_url(base)
    name = f"{u.database or 'guichet'}_{suffix}"[:63]
    admin = await _pg_admin(base)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return u.set(database=name).render_as_string(hide_password=False)


async def drop_database(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    name = make_url(url).database
    admin = await _pg_admin(url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def migrate(url: str, revision: str = "head") -> None:
    cfg = alembic_config(url)
    cfg.attributes["skip_logging"] = True
    await asyncio.to_thread(command.upgrade, cfg, revision)


async def migrate_and_seed(url: str) -> None:
    """What a deployment runs before serving: the migrations, then the default programme (the
    routes that name no programme read it, R-PROG-2)."""
    from app.programme.service import seed_programme

    await migrate(url)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with AsyncSession(engine) as session, session.begin():
            await seed_programme(session)
    finally:
        await engine.dispose()


def siret_of(siren: str, establishment: str = "0001") -> str:
    """A valid SIRET for this SIREN (NIC = establishment number + Luhn key)."""
    body = siren + establishment
    return body + luhn.calc_check_digit(body)


def token(settings: Settings, principal: Principal, **kwargs: object) -> str:
    return encode_access_token(
        settings,
        sub=principal.subject,
        role=principal.role.value,
        departement=principal.departement,
        siren=principal.siren,
        **kwargs,  # type: ignore[arg-type]
    )


def auth_headers(settings: Settings, principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(settings, principal)}"}
