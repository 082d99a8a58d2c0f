"""R-CAP-3: which forfait applies (pure)."""

from __future__ import annotations

import pytest

from app.programme.rules import select_forfait
from app.programme.seed import DEFAULT_FORFAITS


@pytest.mark.parametrize(
    ("kind", "population", "epci_type", "amount"),
    [
        ("commune", 4_999, None, 500_000),
        ("commune", 5_000, None, 1_000_000),
        ("commune", None, None, 1_000_000),
        ("region", None, None, 2_000_000),
        ("departement", 2_000_000, None, 2_000_000),
        ("epci", 30_000, "CC", 2_000_000),
        ("epci", 90_000, "CA", 2_000_000),
        ("epci", 900_000, "METRO", None),
        ("syndicat", 1_000, None, None),
    ],
)
def test_r_cap_3_default_schedule(
    kind: str, population: int | None, epci_type: str | None, amount: int | None
) -> None:
    tier = select_forfait(DEFAULT_FORFAITS, kind=kind, population=population, epci_type=epci_type)
    assert (tier["amount_cents"] if tier else None) == amount
