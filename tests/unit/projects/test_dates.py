"""R-ELIG-8 (no start before the request) and date arithmetic that never leaves the calendar."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from app.projects.eligibility_rules import (
    add_months,
    assess,
    check_dates,
    check_start_after_request,
)
from tests.unit.projects.test_rules import FACTS, TERMS


@pytest.mark.parametrize(
    ("start_on", "request_day", "failed"),
    [
        (date(2021, 3, 1), date(2021, 3, 1), []),  # starting the day of the request: admitted
        (date(2021, 3, 2), date(2021, 3, 1), []),
        (date(2021, 2, 28), date(2021, 3, 1), ["R-ELIG-8"]),  # the day before: refused
        (date(2020, 12, 31), date(2021, 3, 1), ["R-ELIG-8"]),
        (None, date(2021, 3, 1), []),  # a missing start is R-ELIG-6's failure
    ],
)
def test_r_elig_8_start_on_or_after_the_request_day(
    start_on: date | None, request_day: date, failed: list[str]
) -> None:
    failures = check_start_after_request(start_on, request_day)
    assert [f.code for f in failures] == failed
    assert all(f.field == "/start_on" for f in failures)


def test_r_elig_8_is_measured_against_the_day_given_and_listed_with_the_others() -> None:
    facts = replace(FACTS, start_on=date(2021, 3, 1), end_on=date(2023, 6, 1))
    assert [f.code for f in assess(facts, TERMS, date(2021, 3, 1)).failures] == [
        "R-ELIG-5",
        "R-ELIG-6",
    ]
    failures = assess(facts, TERMS, date(2021, 3, 2)).failures
    assert [f.code for f in failures] == ["R-ELIG-5", "R-ELIG-6", "R-ELIG-8"]
    message = next(f.message for f in failures if f.code == "R-ELIG-8")
    assert "01/03/2021" in message and "02/03/2021" in message


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(9999, 12, 31), 24, date.max),
        (date(9998, 1, 1), 24, date.max),
        (date(9997, 12, 1), 24, date(9999, 12, 1)),
        (date(1, 1, 1), 24, date(3, 1, 1)),
    ],
)
def test_add_months_never_leaves_the_calendar(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("start_on", "end_on"),
    [
        (date(9999, 12, 31), date(1, 1, 1)),
        (date(1, 1, 1), date(9999, 12, 31)),
        (date(9999, 12, 31), date(9999, 12, 31)),
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_judged_without_overflow(
    start_on: date, end_on: date
) -> None:
    """Issue 8 item 6: such dates are refused at save now, but one stored earlier must still
    get a report (R-ELIG-5, R-ELIG-6, R-ELIG-8), never `year 10001 is out of range`."""
    facts = replace(FACTS, start_on=start_on, end_on=end_on)
    assert check_dates(facts, TERMS)
    assert assess(facts, TERMS, date(2021, 2, 15)).failures
