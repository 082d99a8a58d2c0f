"""The minutes' figures: what a committee decided, totalled per strand (R-COM-3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.committees.rules import Outcome
from app.committees.views import AgendaRow


@dataclass(frozen=True)
class StrandTotals:
    strand: str
    accepted_count: int = 0
    accepted_cents: int = 0
    rejected_count: int = 0
    deferred_count: int = 0


def strand_totals(agenda: Sequence[AgendaRow]) -> list[StrandTotals]:
    """The minutes' totals per strand: accepted count and amounts, rejected, deferred."""
    totals: dict[str, dict[str, int]] = {}
    for row in agenda:
        if row.item.left_at is not None:  # R-COM-2: left the agenda, decided nothing
            continue
        t = totals.setdefault(
            row.project.strand,
            {"accepted_count": 0, "accepted_cents": 0, "rejected_count": 0, "deferred_count": 0},
        )
        if row.item.outcome == Outcome.ACCEPTED.value:
            t["accepted_count"] += 1
            t["accepted_cents"] += row.item.granted_cents or 0
        elif row.item.outcome == Outcome.REJECTED.value:
            t["rejected_count"] += 1
        elif row.item.outcome == Outcome.DEFERRED.value:
            t["deferred_count"] += 1
    return [StrandTotals(strand, **values) for strand, values in sorted(totals.items())]
