"""Pure helpers of the dashboards: ratios in basis points, and the CSV form of the figures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from app.core.csvcells import csv_text

BPS = 10_000
CSV_HEADER = ("scope", "figure", "key", "value")


def ratio_bps(part: int, whole: int) -> int | None:
    """part / whole in basis points, rounded down; None when whole is 0."""
    if whole <= 0:
        return None
    return part * BPS // whole


def use_rate_bps(committed_cents: int, allocated_cents: int) -> int:
    """Committed / allocated (0 when nothing is allocated), as the envelopes state it."""
    return ratio_bps(committed_cents, allocated_cents) or 0


def _cell(value: Any) -> str:
    """A number as the JSON answer writes it (issue 27: the median was `10.0` in JSON and
    `"10.00"` in CSV), so that both forms of a figure read the same."""
    if value is None:
        return ""
    if isinstance(value, float):
        return json.dumps(value)
    return str(value)


def flatten(scope: str, figures: dict[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """One (scope, figure, key, value) row per number: scalars have an empty key; a list of
    records gives `<list>.<field>` figures keyed by the record's first field (status, strand,
    kind or month)."""
    for name, value in figures.items():
        if isinstance(value, list):
            for record in value:
                fields = list(record.items())
                key = _cell(fields[0][1])
                for field, number in fields[1:]:
                    yield scope, f"{name}.{field}", key, _cell(number)
        elif value is not None or name not in {"series"}:
            yield scope, name, "", _cell(value)


VALUE_COLUMN = CSV_HEADER.index("value")  # a number (or empty): not text


def csv_document(rows: Iterator[tuple[str, str, str, str]]) -> str:
    """The header, then the rows; scope, figure and key are text, neutralised against
    spreadsheet formulas (DOMAIN.md §5, `app.core.csvcells`)."""
    return csv_text([CSV_HEADER, *rows], numeric={VALUE_COLUMN})
