"""Concurrency tests need real, separately committed transactions (RELIABILITY.md §3).

The suite-wide fixtures roll back one shared connection, which serialises everything, so this
folder builds its own FRESH database (SQLite file, or PostgreSQL when GUICHET_DATABASE_URL says
so), migrates it, builds an app with a pool wide enough for real concurrency and seeds the
programme. Every test then sets up its own data in committed transactions, in a département of
its own, so tests never see one another's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import pytest
import pytest_asyncio
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from app.auth.principal import Principal, Role
from app.budgets import (
    envelopes as envelopes_service,
    grants as grants_service,
    payments as payments_service,
)
from app.budgets.models import Envelope, Grant, LedgerMovement
from app.budgets.rules import AllocationKind, ConventionKind, PaymentKind
from app.budgets.schemas import AllocationCreate, ConventionCreate, PaymentCreate
from app.core import clock
from app.core.concurrency import etag_for
from app.core.config import Settings
from app.main import create_app
from app.programme.service import get_programme, seed_programme
from app.projects.models import Project
from app.reference.catalogue import get_catalogue
from tests.factories import make_candidate, make_documents, make_project
from tests.support import (
    auth_headers,
    backend_url,
    create_database,
    drop_database,
    migrate,
    siret_of,
    test_settings,
)

DINUM = Principal("agent-dinum-concurrency", Role.DINUM)
POOL_SIZE = 25


def today() -> date:
    """The service's today: conventions, payments and reports are dated then (R-PAY-3)."""
    return clock.today()


PREFECTURE_SIRET = siret_of("130000003")  # a Luhn-valid SIREN, so a valid SIRET (R-ELIG-2)


def prefect_of(departement: str) -> Principal:
    return Principal(f"prefet-{departement}", Role.PREFECT, departement=departement)


def commune_sirens(departement: str, count: int) -> list[str]:
    """`count` real commune SIRENs of the département, from the reference data."""
    catalogue = get_catalogue()
    found = []
    for siren in sorted(catalogue.sirens()):
        entry = catalogue.by_siren(siren)
        if entry is not None and entry.kind == "commune" and entry.departement == departement:
            found.append(siren)
            if len(found) == count:
                return found
    raise AssertionError(f"only {len(found)} communes in {departement}, {count} wanted")


@dataclass(frozen=True)
class Figures:
    """An envelope as stored, next to what its ledger and grants say it should be."""

    allocated: int
    committed: int
    paid: int
    ledger_allocated: int
    ledger_committed: int
    ledger_paid: int
    grants_count: int
    grants_sum: int  # what the grants still hold committed: SUM(amount − released)
    grants_paid: int
    grants_overdrawn: int  # grants whose paid + released exceeds the amount (R-CAP-5)
    movements: int
    statuses: dict[str, int]

    def assert_reconciled(self) -> None:
        """R-CAP-4 plus the reconciliation of RELIABILITY.md §3."""
        assert 0 <= self.paid <= self.committed <= self.allocated, self
        assert self.committed == self.grants_sum == self.ledger_committed, self
        assert self.allocated == self.ledger_allocated, self
        assert self.paid == self.ledger_paid == self.grants_paid, self
        assert self.grants_overdrawn == 0, self


@dataclass(frozen=True)
class World:
    """Builders over the concurrency app, each in its own committed transaction."""

    app: FastAPI
    settings: Settings

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self.app.state.sessionmaker  # type: ignore[no-any-return]

    @property
    def is_postgres(self) -> bool:
        return not self.settings.is_sqlite

    def headers(self, principal: Principal) -> dict[str, str]:
        return auth_headers(self.settings, principal)

    async def open_envelope(self, departement: str, allocated_cents: int) -> uuid.UUID:
        """First allocation of the département by DINUM, through the service (ledgered)."""
        async with self.sessionmaker() as session, session.begin():
            programme = await get_programme(session, self.settings.programme_code)
            envelope, _ = await envelopes_service.allocate(
                session,
                DINUM,
                programme=programme,
                departement=departement,
                data=AllocationCreate(
                    kind=AllocationKind.ALLOCATION,
                    amount_cents=allocated_cents,
                    reference=f"Délégation initiale {departement}",
                    prefecture_name=f"Préfecture {departement}",
                    prefecture_siret=PREFECTURE_SIRET,
                ),
            )
            return envelope.id

    async def dossiers_in_review(self, departement: str, count: int) -> list[uuid.UUID]:
        """`count` in_review dossiers, one per real commune of the département."""
        ids = []
        async with self.sessionmaker() as session, session.begin():
            for siren in commune_sirens(departement, count):
                candidate = await make_candidate(session, siren=siren)
                assert candidate.departement == departement
                # 50 000 € of development: the maximum grant (100 %) is far above any ask here.
                project = await make_project(
                    session,
                    candidate=candidate,
                    lines=[("development", 5_000_000)],
                    status="in_review",
                    start_on=clock.today(),  # a final report today is not before it (R-PAY-3)
                )
                ids.append(project.id)
        return ids

    async def grant_under_convention(
        self, departement: str, project_id: uuid.UUID, amount_cents: int, advance_cents: int = 0
    ) -> None:
        """Accept a dossier, sign its convention and pay an advance, each in its own
        committed transaction, through the service."""
        prefect = prefect_of(departement)
        async with self.sessionmaker() as session, session.begin():
            await grants_service.commit_grant(
                session, prefect, project_id=project_id, amount_cents=amount_cents
            )
            # R-DOC-1: what the convention and the final report require, already scanned.
            await make_documents(
                session,
                await session.get_one(Project, project_id),
                "signed_convention",
                "final_report",
                "expense_statement",
            )
        async with self.sessionmaker() as session, session.begin():
            project = await session.get_one(Project, project_id)
            await payments_service.sign_convention(
                session,
                prefect,
                project_id=project_id,
                if_match=etag_for(project.version),
                data=ConventionCreate(
                    reference=f"CONV-{project_id.hex[:8]}",
                    kind=ConventionKind.AD_HOC,
                    signed_on=today(),
                ),
            )
        if advance_cents:
            async with self.sessionmaker() as session, session.begin():
                await payments_service.record_payment(
                    session,
                    prefect,
                    project_id=project_id,
                    data=PaymentCreate(
                        kind=PaymentKind.ADVANCE, amount_cents=advance_cents, paid_on=today()
                    ),
                )

    async def project_version(self, project_id: uuid.UUID) -> int:
        async with self.sessionmaker() as session, session.begin():
            project = await session.get_one(Project, project_id, populate_existing=True)
            return project.version

    async def figures(self, departement: str) -> Figures:
        async with self.sessionmaker() as session, session.begin():
            envelope = (
                await session.execute(
                    select(Envelope)
                    .where(Envelope.departement == departement)
                    .execution_options(populate_existing=True)
                )
            ).scalar_one()
            ledger = (
                await session.execute(
                    select(
                        func.coalesce(func.sum(LedgerMovement.allocated_delta_cents), 0),
                        func.coalesce(func.sum(LedgerMovement.committed_delta_cents), 0),
                        func.coalesce(func.sum(LedgerMovement.paid_delta_cents), 0),
                        func.count(),
                    ).where(LedgerMovement.envelope_id == envelope.id)
                )
            ).one()
            grants = (
                await session.execute(
                    select(
                        func.count(),
                        func.coalesce(func.sum(Grant.amount_cents - Grant.released_cents), 0),
                        func.coalesce(func.sum(Grant.paid_cents), 0),
                        func.count().filter(
                            col(Grant.paid_cents) + col(Grant.released_cents)
                            > col(Grant.amount_cents)
                        ),
                    ).where(Grant.envelope_id == envelope.id)
                )
            ).one()
            statuses = dict(
                (
                    await session.execute(
                        select(Project.status, func.count())
                        .where(Project.departement == departement)
                        .group_by(Project.status)
                    )
                ).all()
            )
            return Figures(
                allocated=envelope.allocated_cents,
                committed=envelope.committed_cents,
                paid=envelope.paid_cents,
                ledger_allocated=int(ledger[0]),
                ledger_committed=int(ledger[1]),
                ledger_paid=int(ledger[2]),
                movements=int(ledger[3]),
                grants_count=int(grants[0]),
                grants_sum=int(grants[1]),
                grants_paid=int(grants[2]),
                grants_overdrawn=int(grants[3]),
                statuses={str(k): int(v) for k, v in statuses.items()},
            )

    async def project_statuses(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        async with self.sessionmaker() as session, session.begin():
            rows = await session.execute(
                select(Project.id, Project.status).where(Project.id.in_(ids))  # type: ignore[attr-defined]
            )
            return {row[0]: row[1] for row in rows.all()}


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def concurrency_database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    url = await create_database(tmp_path_factory.mktemp("concurrency"), "concurrency")
    try:
        await migrate(url)
        yield url
    finally:
        await drop_database(url)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def world(concurrency_database_url: str) -> AsyncIterator[World]:
    # Races queue many more requests than connections, on a loaded machine: the waits are
    # the point here, so the connect and pool timeouts (3 s and 5 s by default) are widened.
    settings = test_settings(
        concurrency_database_url,
        database_pool_size=POOL_SIZE,
        database_connect_timeout_seconds=30,
        database_pool_timeout_seconds=30,
    )
    assert settings.is_sqlite == (backend_url() is None)
    application = create_app(settings)
    async with application.state.sessionmaker() as session, session.begin():
        await seed_programme(session)
    try:
        yield World(app=application, settings=settings)
    finally:
        await application.state.engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def http(world: World) -> AsyncIterator[AsyncClient]:
    """A client on the real app: every request gets its own session and transaction."""
    transport = ASGITransport(app=world.app)
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
