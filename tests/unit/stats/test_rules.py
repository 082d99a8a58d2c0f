"""Dashboard helpers: ratios in basis points and the CSV form of the figures."""

from __future__ import annotations

import json

import pytest

from app.stats.rules import csv_document, flatten, ratio_bps, use_rate_bps


@pytest.mark.parametrize(
    ("part", "whole", "bps"),
    [
        (0, 10, 0),
        (1, 2, 5000),
        (1, 3, 3333),
        (2, 3, 6666),
        (3, 3, 10000),
        (1, 0, None),
        (1, 1, 10000),  # a whole of one cent is a whole
        (0, 1, 0),
    ],
)
def test_ratio_bps(part: int, whole: int, bps: int | None) -> None:
    assert ratio_bps(part, whole) == bps


def test_use_rate_is_zero_without_allocation() -> None:
    assert use_rate_bps(0, 0) == 0
    assert use_rate_bps(2_900_000, 15_000_000) == 1933


def test_flatten_one_row_per_number() -> None:
    rows = list(
        flatten(
            "13",
            {
                "committed_cents": 10,
                "median_days_to_decision": 8.5,
                "small_beneficiary_share_bps": None,
                "by_strand": [{"strand": "3c", "projects": 2, "granted_cents": 5}],
                "series": None,
            },
        )
    )
    assert rows == [
        ("13", "committed_cents", "", "10"),
        ("13", "median_days_to_decision", "", "8.5"),
        ("13", "small_beneficiary_share_bps", "", ""),
        ("13", "by_strand.projects", "3c", "2"),
        ("13", "by_strand.granted_cents", "3c", "5"),
    ]
    assert csv_document(iter(rows)).splitlines()[:2] == [
        "scope,figure,key,value",
        "13,committed_cents,,10",
    ]


def test_stats_csv_neutralises_text_cells_not_numbers() -> None:
    """DOMAIN.md §5: every CSV the service writes quotes a text cell starting a formula; the
    value column is a number (a negative one stays a number)."""
    rows = [("=cmd|' /C calc'!A0", "@SUM(1+1)", "+1", "-5"), ("13", "available_cents", "", "-7")]
    assert csv_document(iter(rows)).splitlines()[1:] == [
        "'=cmd|' /C calc'!A0,'@SUM(1+1),'+1,-5",
        "13,available_cents,,-7",
    ]


@pytest.mark.parametrize(
    ("median", "text"), [(0.0, "0.0"), (8.5, "8.5"), (10.0, "10.0"), (12.33, "12.33")]
)
def test_a_float_figure_reads_in_csv_as_in_json(median: float, text: str) -> None:
    """Issue 27: a median of 0 days was `0.0` in JSON and `0.00` in CSV."""
    ((*_, cell),) = flatten("13", {"median_days_to_decision": median})
    assert cell == text == json.dumps(median)
