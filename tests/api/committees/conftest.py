"""Fixtures of the committee API tests: the budget fixtures (candidates, envelope, dossiers in
review) plus the committees driver."""

from __future__ import annotations

import pytest
from httpx import AsyncClient

from tests.api.budgets.conftest import (  # noqa: F401  (fixtures)
    aix,
    envelope_13,
    in_review,
    marseille,
    money,
    paris,
)
from tests.api.committees.driver import Committees
from tests.conftest import Actors


@pytest.fixture
def committees(client: AsyncClient, headers, actors: Actors) -> Committees:  # type: ignore[no-untyped-def]
    return Committees(client, headers, actors)
