"""Pure rules on programme data: which forfait applies (R-CAP-3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def select_forfait(
    tiers: Sequence[Mapping[str, Any]],
    *,
    kind: str,
    population: int | None,
    epci_type: str | None,
) -> Mapping[str, Any] | None:
    """R-CAP-3: the first tier matching the candidate's kind, EPCI type and population.

    A tier with `population_below` matches only a known population strictly below it.
    """
    for tier in tiers:
        if kind not in tier["kinds"]:
            continue
        epci_types = tier.get("epci_types")
        if epci_types and epci_type not in epci_types:
            continue
        below = tier.get("population_below")
        if below is not None and (population is None or population >= below):
            continue
        return tier
    return None
