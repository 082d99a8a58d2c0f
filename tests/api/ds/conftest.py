"""Fixtures of the DS API tests: the budgets' money driver and the committees driver."""

from __future__ import annotations

import pytest
from httpx import AsyncClient

from tests.api.budgets.conftest import money  # noqa: F401  (fixture)
from tests.api.committees.driver import Committees
from tests.conftest import Actors


@pytest.fixture
def committees(client: AsyncClient, headers, actors: Actors) -> Committees:  # type: ignore[no-untyped-def]
    return Committees(client, headers, actors)
