"""`python -m app demo`: the timeline replayed on an empty database, then the service's clock
moved on to the story's end (never back), so that no record is dated in the service's future."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from functools import partial
from typing import Any

import aiosqlite
import httpx
from fastapi import FastAPI
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url
from sqlmodel import col

import app.models  # noqa: F401 - every table, for the foreign keys of the ones read here
from app.auth.principal import Principal, Role
from app.candidates.models import Candidate
from app.core.config import Settings
from app.demo.cast import DEPARTEMENTS, DINUM, ORGANISATIONS
from app.demo.replay import Loaded, Replay
from app.demo.timeline import (
    DEMO_END,
    FUNDED,
    NT2026_DEPARTEMENTS,
    DossierPlan,
    fitn7_dossiers,
    nt2026_dossiers,
)
from app.projects.models import Project


class DemoRefused(Exception):
    """The demo data cannot be loaded here (production, or a database already in use)."""


async def database_state(app: FastAPI) -> str:
    """ "empty", "demo" (the demo data is there) or "used" (other data)."""
    async with app.state.sessionmaker() as session:
        candidates = (await session.execute(select(func.count()).select_from(Candidate))).scalar()
        projects = (await session.execute(select(func.count()).select_from(Project))).scalar()
        demo = (
            await session.execute(
                select(func.count())
                .select_from(Candidate)
                .where(col(Candidate.siren) == ORGANISATIONS[0].siren)
            )
        ).scalar()
    if not candidates and not projects:
        return "empty"
    return "demo" if demo else "used"


def envelopes_for(dossiers: list[DossierPlan], departements: Iterable[str]) -> dict[str, int]:
    """Each département's allocation: what its committees will grant and a fifth more, rounded
    up to 100 000 €."""
    granted = dict.fromkeys(departements, 0)
    for plan in dossiers:
        if plan.fate in FUNDED:
            granted[plan.departement] += plan.granted_cents
    return {dep: (cents * 6 // 5 // 10_000_000 + 1) * 10_000_000 for dep, cents in granted.items()}


async def load(settings: Settings, *, scale: float = 1.0) -> Loaded:
    """Load the demo data set into the database of `settings` (migrated and seeded): FITN7's
    2021–2022 (about 230 dossiers at `scale` 1), then NT2026 opened by DINUM in January 2026
    and its first dossiers. Afterwards the service's clock reads DEMO_END (or later, if it
    already did: it never goes back).

    Raises DemoRefused in production, or when the database holds data already.
    """
    from app.core.clock_moves import move_clock
    from app.core.db import start_clock
    from app.main import create_app

    if settings.environment == "production":
        raise DemoRefused("Les données de démonstration sont refusées en production.")
    quiet = settings.model_copy(
        update={"rate_limit_enabled": False, "webhook_worker_enabled": False, "access_log": False}
    )
    app = create_app(quiet)
    if app.state.engine.dialect.name == "sqlite":
        await _bulk_load_engine(app, quiet)
    try:
        await start_clock(app)
        state = await database_state(app)
        if state == "demo":
            raise DemoRefused("Les données de démonstration sont déjà chargées : rien à faire.")
        if state == "used":
            raise DemoRefused(
                "La base contient déjà des candidats ou des dossiers : données de démonstration "
                "non chargées (elles ne se chargent que dans une base vide)."
            )
        started = time.monotonic()
        fitn7, nt2026 = fitn7_dossiers(scale), nt2026_dossiers()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            replay = Replay(app, client, quiet)
            replay.fitn7(fitn7, envelopes_for(fitn7, DEPARTEMENTS))
            replay.nt2026(nt2026, envelopes_for(nt2026, NT2026_DEPARTEMENTS))
            loaded = await replay.run()
        assert replay.now <= DEMO_END  # noqa: S101 - the story ends by its "now"
        await move_clock(
            app.state.sessionmaker,
            quiet,
            to=DEMO_END,
            if_earlier=True,
            principal=_demo_principal(),
        )
        loaded.seconds = time.monotonic() - started
        return loaded
    finally:
        await app.state.engine.dispose()


class _InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run in the event loop's thread: the thread hand-off
    (two loop wake-ups per call, ~15 calls per request) was a fifth of the demo load's time.
    Only for the demo load: its requests run one at a time on a database nothing else uses,
    so no call can wait on a lock that another request of the same loop holds."""

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


async def _bulk_load_engine(app: FastAPI, settings: Settings) -> None:
    """The app's SQLite engine replaced by one for a bulk load: calls inline, no fsync per
    commit (WAL keeps the file consistent; a crash midway leaves a database to delete, which
    `--if-empty` then refuses to fill twice)."""
    from app.core.db import make_engine, make_sessionmaker
    from app.core.reads import read_engines

    path = make_url(settings.database_url).database or ":memory:"

    async def connect() -> aiosqlite.Connection:
        connector = partial(sqlite3.connect, path, check_same_thread=False)
        return await _InlineConnection(connector, iter_chunk_size=64)

    await app.state.engine.dispose()
    engine = make_engine(settings, async_creator=connect)

    @event.listens_for(engine.sync_engine, "connect")
    def _fast(connection, _record) -> None:  # type: ignore[no-untyped-def]
        connection.cursor().execute("PRAGMA synchronous=OFF")

    app.state.engine, app.state.sessionmaker = engine, make_sessionmaker(engine)
    app.state.read_engines = read_engines(engine)


def _demo_principal() -> Principal:
    return Principal(DINUM.sub, Role.DINUM)
