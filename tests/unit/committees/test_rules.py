"""Pure rules of committees: R-COM-1 (when due), R-COM-4 (flag and agenda order)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.committees.rules import (
    AgendaRank,
    DueReason,
    add_months,
    agenda_sort_key,
    committee_due,
    is_small_population,
    meeting_date_problem,
)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2021, 2, 15), 1, date(2021, 3, 15)),
        (date(2021, 1, 31), 1, date(2021, 2, 28)),
        (date(2020, 1, 31), 1, date(2020, 2, 29)),
        (date(2021, 12, 20), 1, date(2022, 1, 20)),
        (date(2021, 3, 31), 13, date(2022, 4, 30)),
    ],
)
def test_add_months_is_a_calendar_month(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("since_last", "waiting", "anchor", "today", "expected"),
    [
        # R-COM-1: the threshold (10) of dossiers submitted since the last close
        (10, 10, None, date(2021, 3, 1), DueReason.THRESHOLD),
        (9, 9, date(2021, 2, 15), date(2021, 3, 1), None),
        (11, 11, date(2021, 2, 15), date(2021, 2, 16), DueReason.THRESHOLD),
        # nothing waiting is never due, whatever was submitted then returned or closed
        (11, 0, date(2021, 2, 15), date(2021, 2, 16), None),
        (10, 0, None, date(2021, 3, 1), None),
        # a calendar month since the anchor with at least one dossier waiting
        (1, 1, date(2021, 2, 15), date(2021, 3, 14), None),
        (1, 1, date(2021, 2, 15), date(2021, 3, 15), DueReason.MONTH),
        (0, 1, date(2021, 2, 15), date(2021, 6, 1), DueReason.MONTH),
        (0, 0, date(2021, 2, 15), date(2021, 6, 1), None),  # nothing waiting
        (0, 3, None, date(2021, 6, 1), None),  # no anchor: never submitted, never closed
    ],
)
def test_r_com_1_committee_due(
    since_last: int, waiting: int, anchor: date | None, today: date, expected: DueReason | None
) -> None:
    assert (
        committee_due(
            submitted_since_last=since_last,
            waiting=waiting,
            anchor=anchor,
            today=today,
            threshold=10,
        )
        is expected
    )


@pytest.mark.parametrize(
    ("meeting_on", "refused"),
    [
        # R-COM-2: inside the programme (2021-01-25 .. 2022-12-31), not before today
        (date(2021, 1, 24), True),
        (date(2021, 1, 25), True),  # the window's opening, but in the past
        (date(2021, 2, 14), True),
        (date(2021, 2, 15), False),  # today
        (date(2022, 12, 31), False),  # the results deadline
        (date(2023, 1, 1), True),
        (date(2100, 12, 31), True),
        (date(2000, 1, 1), True),
    ],
)
def test_r_com_2_meeting_date_bounds(meeting_on: date, refused: bool) -> None:
    problem = meeting_date_problem(
        meeting_on,
        window_opens_on=date(2021, 1, 25),
        results_deadline=date(2022, 12, 31),
        today=date(2021, 2, 15),
    )
    assert (problem is not None) is refused
    if problem is not None:
        assert meeting_on.isoformat() in problem


def test_r_com_2_meeting_date_on_the_window_opening_when_today_is_earlier() -> None:
    opening = date(2021, 1, 25)
    assert (
        meeting_date_problem(
            opening, window_opens_on=opening, results_deadline=date(2022, 12, 31), today=opening
        )
        is None
    )
    assert (
        meeting_date_problem(
            date(2021, 1, 24),
            window_opens_on=opening,
            results_deadline=date(2022, 12, 31),
            today=date(2021, 1, 1),
        )
        is not None
    )


@pytest.mark.parametrize(
    ("population", "expected"), [(None, False), (4_999, True), (5_000, False), (0, True)]
)
def test_r_com_4_small_population(population: int | None, expected: bool) -> None:
    assert is_small_population(population, 5_000) is expected


def test_r_com_4_agenda_order_score_then_small_then_submission() -> None:
    early = datetime(2021, 2, 1, tzinfo=UTC)
    late = datetime(2021, 2, 10, tzinfo=UTC)
    ranks = {
        "unscored-small": AgendaRank(None, True, early),
        "low": AgendaRank(250, True, early),
        "high-big": AgendaRank(420, False, early),
        "high-small-late": AgendaRank(420, True, late),
        "unscored-big-early": AgendaRank(None, False, early),
        "unscored-big-late": AgendaRank(None, False, late),
        "unscored-big-never": AgendaRank(None, False, None),
    }
    ordered = sorted(ranks, key=lambda name: agenda_sort_key(ranks[name]))
    assert ordered == [
        "high-small-late",
        "high-big",
        "low",
        "unscored-small",
        "unscored-big-early",
        "unscored-big-late",
        "unscored-big-never",
    ]


def agenda(ranks: dict[str, AgendaRank]) -> list[str]:
    """The R-COM-4 order of `ranks`, checked to be the same whatever order they come in (a
    stable sort must not hide a missing tie-break)."""
    forward = sorted(ranks, key=lambda name: agenda_sort_key(ranks[name]))
    names = list(ranks)
    names.reverse()
    backward = sorted(names, key=lambda name: agenda_sort_key(ranks[name]))
    assert forward == backward
    return forward


def test_r_com_4_a_mean_of_zero_is_scored_and_comes_before_the_unscored() -> None:
    # 0.00 is a mean (every criterion scored 0), not "no mean": it stays among the scored,
    # above an unscored dossier even a small candidate's submitted earlier.
    early = datetime(2021, 2, 1, tzinfo=UTC)
    late = datetime(2021, 2, 10, tzinfo=UTC)
    ranks = {
        "unscored-small-early": AgendaRank(None, True, early),
        "zero-big-late": AgendaRank(0, False, late),
        "one-hundredth-big-late": AgendaRank(1, False, late),
        "zero-small-early": AgendaRank(0, True, early),
    }
    assert agenda(ranks) == [
        "one-hundredth-big-late",  # 0.01 > 0.00, whatever the size and date
        "zero-small-early",
        "zero-big-late",
        "unscored-small-early",
    ]


def test_r_com_4_same_score_and_size_earliest_submission_first() -> None:
    ranks = {
        "late": AgendaRank(300, False, datetime(2021, 2, 10, 9, tzinfo=UTC)),
        "never": AgendaRank(300, False, None),
        "early": AgendaRank(300, False, datetime(2021, 2, 10, 8, tzinfo=UTC)),
        "unscored-late": AgendaRank(None, True, datetime(2021, 3, 1, tzinfo=UTC)),
        "unscored-early": AgendaRank(None, True, datetime(2021, 1, 1, tzinfo=UTC)),
    }
    assert agenda(ranks) == ["early", "late", "never", "unscored-early", "unscored-late"]
