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


def grid_snapshot(
    general: Sequence[Mapping[str, Any]], strand: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """R-EVAL-1: a strand's grid, the general criteria first, each with its weight and group."""
    return [
        {"code": c["code"], "label": c["label"], "weight": int(c["weight"]), "group": group}
        for group, criteria in (("general", general), ("strand", strand))
        for c in criteria
    ]


def shared_criterion_codes(
    general: Sequence[Mapping[str, Any]], strands: Sequence[Mapping[str, Any]]
) -> list[tuple[str, int, str]]:
    """R-EVAL-1: (where, index, code) of every criterion code a strand's grid would hold twice:
    a general code repeated (where = "general_criteria", index in it) or a strand criterion
    reusing a general code (where = "strands/<i>/criteria", index in the strand)."""
    clashes: list[tuple[str, int, str]] = []
    seen: set[str] = set()
    for position, criterion in enumerate(general):
        if criterion["code"] in seen:
            clashes.append(("general_criteria", position, criterion["code"]))
        seen.add(criterion["code"])
    for index, strand in enumerate(strands):
        for position, criterion in enumerate(strand["criteria"]):
            if criterion["code"] in seen:
                clashes.append((f"strands/{index}/criteria", position, criterion["code"]))
    return clashes
