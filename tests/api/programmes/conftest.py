"""Fixtures of the R-PROG-2 tests: the budget and committee fixtures, and the second seeded
programme (Numérique des territoires 2026) with the service's clock inside its window."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.core.clock import Clock
from app.programme.models import Programme
from tests.api.budgets.conftest import (  # noqa: F401  (fixtures)
    aix,
    envelope_13,
    granted,
    in_review,
    marseille,
    money,
    paris,
    under_convention,
)
from tests.api.committees.driver import Committees
from tests.conftest import Actors

NT = "NUMERIQUE-TERRITOIRES-2026"
FITN7 = "FITN7-AXE3"


@pytest.fixture
def committees(client: AsyncClient, headers, actors: Actors) -> Committees:  # type: ignore[no-untyped-def]
    return Committees(client, headers, actors)


@pytest.fixture
async def nt2026(session: AsyncSession) -> Programme:
    found = await session.execute(select(Programme).where(Programme.code == NT))
    return found.scalar_one()


@pytest.fixture
def in_2026(clock_at: Callable[[datetime | str], Clock]) -> Clock:
    """The service's clock inside NT2026's window (2026-02-01..2027-03-31)."""
    return clock_at("2026-03-02T10:00:00+01:00")


def dossier_body(**extra: Any) -> dict[str, Any]:
    return {
        "strand": "socle",
        "title": "Guichet numérique des démarches",
        "description": "Un guichet en ligne pour les démarches de la commune.",
        "expense_lines": [
            {"category": "development", "label": "Développement", "amount_cents": 2_000_000}
        ],
        "requested_cents": 1_000_000,
        **extra,
    }
