"""Pure rules on programme data: which forfait applies (R-CAP-3)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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


def uncovered_kinds(tiers: Sequence[Mapping[str, Any]], kinds: Iterable[str]) -> list[str]:
    """R-CAP-3: the kinds no forfait reaches whatever their population or EPCI type.

    A kind is covered when one of its tiers has neither a population threshold nor an EPCI
    type restriction (a candidate of unknown population or of another EPCI type falls there).
    """
    covered = {
        kind
        for tier in tiers
        if not tier.get("epci_types") and tier.get("population_below") is None
        for kind in tier["kinds"]
    }
    return sorted(kind for kind in kinds if kind not in covered)
