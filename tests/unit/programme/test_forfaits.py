"""R-CAP-3: which forfait applies (pure)."""

from __future__ import annotations

import pytest

from app.programme.rules import select_forfait, uncovered_kinds
from app.programme.seed import DEFAULT_FORFAITS
from app.reference.kinds import ELIGIBLE_KINDS


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
        ("epci", 900_000, "METRO", 2_000_000),
        ("epci", 400_000, "CU", 2_000_000),
        ("epci", 50_000, None, 2_000_000),
        ("syndicat", 1_000, None, 2_000_000),
        ("collectivite_outre_mer", None, None, 2_000_000),
        ("public_body", None, None, 2_000_000),
    ],
)
def test_r_cap_3_default_schedule(
    kind: str, population: int | None, epci_type: str | None, amount: int | None
) -> None:
    tier = select_forfait(DEFAULT_FORFAITS, kind=kind, population=population, epci_type=epci_type)
    assert (tier["amount_cents"] if tier else None) == amount


def test_r_cap_3_the_default_schedule_covers_every_eligible_kind() -> None:
    assert uncovered_kinds(DEFAULT_FORFAITS, ELIGIBLE_KINDS) == []


@pytest.mark.parametrize(
    ("tiers", "missing"),
    [
        ([], ["commune", "epci"]),
        ([{"kinds": ["commune"], "population_below": 5_000}], ["commune", "epci"]),
        ([{"kinds": ["epci"], "epci_types": ["CC"]}, {"kinds": ["commune"]}], ["epci"]),
        ([{"kinds": ["epci"], "epci_types": []}, {"kinds": ["commune"]}], []),
        ([{"kinds": ["epci", "commune"], "epci_types": None, "population_below": None}], []),
    ],
)
def test_r_cap_3_a_kind_is_covered_only_by_an_unconditional_tier(
    tiers: list[dict[str, object]], missing: list[str]
) -> None:
    assert uncovered_kinds(tiers, ["epci", "commune"]) == missing
