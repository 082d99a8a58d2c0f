"""Pure rules of committees: when one is due (R-COM-1), its meeting date and the dossiers that
leave its agenda (R-COM-2), the agenda's order (R-COM-4)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class CommitteeStatus(StrEnum):
    PLANNED = "planned"
    IN_SESSION = "in_session"
    CLOSED = "closed"
    CANCELLED = "cancelled"


# R-COM-2: the committee is open (its agenda can change, decisions can be recorded).
OPEN_STATUSES = frozenset({CommitteeStatus.PLANNED.value, CommitteeStatus.IN_SESSION.value})


class LeftReason(StrEnum):
    """Pourquoi un dossier a quitté l'ordre du jour d'un comité ouvert (R-COM-2)."""

    RETURNED = "returned"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DEFERRED = "deferred"


class DueReason(StrEnum):
    THRESHOLD = "threshold"
    MONTH = "month"


def add_months(day: date, months: int) -> date:
    """The same day `months` calendar months later (the month's last day when it is shorter:
    31 January + 1 month = 28 or 29 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def committee_due(
    *,
    submitted_since_last: int,
    waiting: int,
    anchor: date | None,
    today: date,
    threshold: int,
) -> DueReason | None:
    """R-COM-1: due when at least one dossier is waiting and either `threshold` of the waiting
    dossiers were submitted since the last closed committee, or a calendar month has passed
    since `anchor` (that close, or for the first committee the oldest waiting submission);
    else None. Nothing waiting is never due (returned, withdrawn, closed dossiers don't count)."""
    if waiting <= 0:
        return None
    if submitted_since_last >= threshold:
        return DueReason.THRESHOLD
    if anchor is not None and add_months(anchor, 1) <= today:
        return DueReason.MONTH
    return None


def meeting_date_problem(
    meeting_on: date, *, window_opens_on: date, results_deadline: date, today: date
) -> str | None:
    """R-COM-2: a committee meets inside the programme (on or after the window's opening, not
    after the results deadline) and, when it is planned, not in the past; the reason in French
    when it does not, else None."""
    if meeting_on < window_opens_on:
        return (
            f"La séance ({meeting_on.isoformat()}) précède l'ouverture de l'appel à projets "
            f"({window_opens_on.isoformat()})."
        )
    if meeting_on > results_deadline:
        return (
            f"La séance ({meeting_on.isoformat()}) est postérieure à la date limite des "
            f"résultats ({results_deadline.isoformat()})."
        )
    if meeting_on < today:
        return f"La séance ({meeting_on.isoformat()}) est dans le passé (aujourd'hui : {today})."
    return None


def is_small_population(population: int | None, threshold: int) -> bool:
    """R-COM-4: a candidate under the programme's threshold (5,000 inhabitants) is flagged."""
    return population is not None and population < threshold


@dataclass(frozen=True)
class AgendaRank:
    mean_score_centi: int | None
    small_population: bool
    submitted_at: datetime | None
    tie_breaker: str = ""


def agenda_sort_key(rank: AgendaRank) -> tuple[int, int, int, float, str]:
    """R-COM-4 order: mean score descending (unscored last), then small candidates first,
    then the earliest submission."""
    return (
        0 if rank.mean_score_centi is not None else 1,
        -(rank.mean_score_centi or 0),
        0 if rank.small_population else 1,
        rank.submitted_at.timestamp() if rank.submitted_at else float("inf"),
        rank.tie_breaker,
    )
