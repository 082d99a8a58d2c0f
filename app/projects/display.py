"""How a dossier's amounts and scores are shown: euros, score hundredths, the score summary."""

from __future__ import annotations

from dataclasses import dataclass


def euros(cents: int) -> str:
    """French money formatting: 12 345,67 €."""
    whole, part = divmod(cents, 100)
    return f"{whole:,}".replace(",", "\u202f") + f",{part:02d} €"


@dataclass(frozen=True)
class ScoreSummary:
    """R-EVAL-3: what the evaluations of a dossier add up to, as stored on the project row.

    `evaluation_count`/`mean_score_centi`: the prefecture's evaluations that are not recused
    and the mean of their weighted totals in hundredths of a point (0..500, None when none);
    `advisory_count`/`advisory_mean_centi`: ANCT's advisory ones, shown apart, never in the mean.
    """

    evaluation_count: int = 0
    mean_score_centi: int | None = None
    advisory_count: int = 0
    advisory_mean_centi: int | None = None


def centi_text(centi: int | None) -> str | None:
    """A score in hundredths of a point as shown: 345 → "3.45", None stays None."""
    if centi is None:
        return None
    return f"{centi // 100}.{centi % 100:02d}"
