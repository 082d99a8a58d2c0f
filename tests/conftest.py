"""Backend selection, one migrated database per session, per-test rollback, HTTP client.

`GUICHET_DATABASE_URL=postgresql+asyncpg://…` runs the suite on PostgreSQL (a fresh database is
created beside the one named, and dropped at the end); otherwise a SQLite file is used.

Time (R-ELIG-8): the suite's app runs the 2021 programme, its clock started at
`support.TEST_CLOCK_START` (2021-02-15 10:00, Paris) through GUICHET_CLOCK_START, as a demo
would; the test's own code (factories) reads the same clock. `clock_at(instant)` moves it for
one test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import pytest
import pytest_asyncio
from fastapi import FastAPI, Request
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlmodel import select

from app.auth.principal import Principal, Role
from app.core.clock import Clock, use_clock
from app.core.config import Settings
from app.core.db import (
    RequestClock,
    get_clock,
    get_session,
    get_streaming_session,
    load_clock,
    make_engine,
    make_sessionmaker,
    transaction_scope,
    write_session,
)
from app.core.reads import ReadPool, read_connection
from app.main import create_app
from app.programme import cache as programme_cache
from app.programme.models import Programme
from app.programme.service import SEEDED_PROGRAMMES, seed_programme
from app.stats import cache as stats_cache
from tests.support import (
    TEST_CLOCK_START,
    auth_headers,
    clock_starting_at,
    create_database,
    drop_database,
    migrate,
    test_settings,
)

# Actors of RELIABILITY.md §1. Marseille and Aix-en-Provence are communes of the 13.
MARSEILLE_SIREN = "211300553"
AIX_SIREN = "211300017"
PARIS_SIREN = "217500016"


@dataclass(frozen=True)
class Actors:
    pref13: Principal
    pref75: Principal
    dinum: Principal
    anct: Principal
    cand_a: Principal
    cand_b: Principal
    cand_paris: Principal


ACTORS = Actors(
    pref13=Principal("prefet-13", Role.PREFECT, departement="13"),
    pref75=Principal("prefet-75", Role.PREFECT, departement="75"),
    dinum=Principal("agent-dinum", Role.DINUM),
    anct=Principal("agent-anct", Role.ANCT),
    cand_a=Principal("agent-marseille", Role.CANDIDATE, siren=MARSEILLE_SIREN),
    cand_b=Principal("agent-aix", Role.CANDIDATE, siren=AIX_SIREN),
    cand_paris=Principal("agent-paris", Role.CANDIDATE, siren=PARIS_SIREN),
)


@pytest.fixture(scope="session")
def actors() -> Actors:
    return ACTORS


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    url = await create_database(tmp_path_factory.mktemp("db"), "suite")
    await migrate(url)
    # R-ELIG-8: the suite's database is born with the suite's clock, whichever test starts an
    # app on it first (a test's own settings carry no clock start: run alone, tests/contract
    # fixed it at real time, and the examples' scenario of 2021 then ran in 2026).
    engine = make_engine(test_settings(url))
    try:
        await load_clock(
            make_sessionmaker(engine), test_settings(url, clock_start=TEST_CLOCK_START)
        )
    finally:
        await engine.dispose()
    yield url
    await drop_database(url)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return test_settings(database_url, clock_start=TEST_CLOCK_START)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    # What the lifespan does: fix the database's clock at its first start (R-ELIG-8).
    application.state.clock = await load_clock(application.state.sessionmaker, settings)
    use_clock(application.state.clock)
    # ... and open the autocommit reads' pool on PostgreSQL (issue 28: the reads that do not
    # take the test's connection take theirs from it).
    application.state.read_pool = await ReadPool.open(application.state.engine, settings)
    async with application.state.sessionmaker() as session, session.begin():
        await seed_programme(session, SEEDED_PROGRAMMES)  # R-PROG-2: two calls at once
    yield application
    if application.state.read_pool is not None:
        await application.state.read_pool.close()
    await application.state.engine.dispose()


@pytest.fixture(scope="session")
def engine(app: FastAPI) -> AsyncEngine:
    return app.state.engine  # type: ignore[no-any-return]


@asynccontextmanager
async def isolated_session(app: FastAPI, engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session in a transaction rolled back at the end; the app shares it meanwhile (one
    test, or one example of a property test)."""
    use_clock(app.state.clock)  # the test's own writes read the app's clock
    # Every test's rollback rewinds the audit chain head that keys the dashboards' cache, and
    # the programmes' versions that key theirs (a rolled-back edit's version comes again).
    stats_cache.clear()
    programme_cache.clear()
    connection = await engine.connect()
    outer = await connection.begin()
    test_session = AsyncSession(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    # The programmes as a long-running instance holds them (issue 13: hot reads find them
    # cached), read again from this test's database state.
    for code in (await test_session.execute(select(Programme.code))).scalars().all():
        await programme_cache.programme_by_code(test_session, code)
    # What `_request_session` tells the rules (R-DOC-1: an unscanned document outside production).
    test_session.info["production"] = app.state.settings.environment == "production"

    @asynccontextmanager
    async def _write_session(_request: Request | None) -> AsyncIterator[AsyncSession]:
        # What the test set up is committed (to the SAVEPOINT) as if by an earlier request, so
        # that this request's rollback cannot undo it; expunge so that objects loaded by the
        # setup cannot hide missing eager loads. A lean write (issue 28) takes it as is: its
        # dependency (`write_access`) has made the request's clock current already.
        await test_session.commit()
        test_session.expunge_all()
        async with transaction_scope(test_session) as scoped:
            yield scoped

    async def _override(_clock: RequestClock) -> AsyncIterator[AsyncSession]:
        async with _write_session(None) as scoped:
            yield scoped

    @asynccontextmanager
    async def _read_connection(
        _request: Request, *, snapshot: bool
    ) -> AsyncIterator[AsyncConnection]:
        # A lean read (issue 28) on the test's connection: what the test set up is committed
        # to its SAVEPOINT first, as above, and the read runs in a SAVEPOINT of its own (what
        # the service's read connection is: a transaction nothing else shares), released after.
        # The read's dependency (`read_access`) has made the request's clock current already.
        await test_session.commit()
        test_session.expunge_all()
        async with connection.begin_nested():
            yield connection

    app.dependency_overrides[get_session] = _override
    app.dependency_overrides[get_streaming_session] = _override  # the uploads' (issue 24)
    app.state.read_connection = _read_connection
    app.state.write_session = _write_session
    try:
        yield test_session
    finally:
        for dependency in (get_session, get_streaming_session):
            app.dependency_overrides.pop(dependency, None)
        app.state.read_connection = read_connection
        app.state.write_session = write_session
        await test_session.close()
        await outer.rollback()
        await connection.close()
        stats_cache.clear()
        programme_cache.clear()


@pytest_asyncio.fixture(loop_scope="session")
async def session(app: FastAPI, engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session in a transaction rolled back after the test; the app shares it."""
    try:
        async with isolated_session(app, engine) as test_session:
            yield test_session
    finally:
        app.dependency_overrides.clear()


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: FastAPI, session: AsyncSession) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=app)
    async with AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def clock_at(app: FastAPI) -> Iterator[Callable[[datetime | str], Clock]]:
    """`clock_at("2021-10-02")` (10:00 Paris) or `clock_at("2021-10-02T18:30:00+02:00")`.

    From that call on, in this test, the service's clock reads that instant and runs on: the
    requests (through the `get_clock` dependency) and the test's own code alike. The suite's
    clock (TEST_CLOCK_START) is back for the next test.
    """

    def _move(instant: datetime | str) -> Clock:
        clock = clock_starting_at(instant)
        app.dependency_overrides[get_clock] = lambda: clock
        use_clock(clock)
        return clock

    yield _move
    app.dependency_overrides.pop(get_clock, None)


@pytest.fixture
def headers(settings: Settings):  # type: ignore[no-untyped-def]
    """`headers(principal)` → Authorization header with a freshly minted token."""

    def _headers(principal: Principal) -> dict[str, str]:
        return auth_headers(settings, principal)

    return _headers
