"""Fixtures of the budget API tests: candidates of the 13 and 75, envelopes allocated by DINUM,
dossiers in review, granted and under convention."""

from __future__ import annotations

import uuid

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from tests.api.budgets.driver import Money
from tests.conftest import AIX_SIREN, MARSEILLE_SIREN, PARIS_SIREN, Actors
from tests.factories import make_candidate, make_project
from tests.support import TEST_CLOCK_START

ENVELOPE_13 = 10_000_000  # 100 000 €
GRANT = 1_000_000  # 10 000 €


@pytest.fixture
def money(client: AsyncClient, session: AsyncSession, headers, actors: Actors) -> Money:  # type: ignore[no-untyped-def]
    return Money(client, session, headers, actors)


@pytest.fixture
async def marseille(session: AsyncSession) -> Candidate:
    return await make_candidate(session, siren=MARSEILLE_SIREN)


@pytest.fixture
async def aix(session: AsyncSession) -> Candidate:
    return await make_candidate(session, siren=AIX_SIREN)


@pytest.fixture
async def paris(session: AsyncSession) -> Candidate:
    return await make_candidate(session, siren=PARIS_SIREN)


@pytest.fixture
async def envelope_13(money: Money) -> dict:  # type: ignore[type-arg]
    response = await money.allocate("13", ENVELOPE_13)
    assert response.status_code == 201, response.text
    return response.json()["envelope"]  # type: ignore[no-any-return]


@pytest.fixture
async def in_review(session: AsyncSession, marseille: Candidate, aix: Candidate) -> uuid.UUID:
    """A 3c dossier of Marseille under review: 20 000 € eligible, 10 000 € asked, started on
    the suite's first day (a final report dated today is not before it, R-PAY-3)."""
    project = await make_project(
        session, candidate=marseille, status="in_review", start_on=TEST_CLOCK_START.date()
    )
    return project.id


@pytest.fixture
async def granted(money: Money, envelope_13: dict, in_review: uuid.UUID) -> uuid.UUID:  # type: ignore[type-arg]
    """The dossier accepted with a 10 000 € grant committed on the 13's envelope."""
    await money.commit(in_review, GRANT)
    return in_review


@pytest.fixture
async def under_convention(money: Money, granted: uuid.UUID) -> uuid.UUID:
    response = await money.convention(granted)
    assert response.status_code == 200, response.text
    assert response.json()["project_status"] == "under_convention"
    return granted
