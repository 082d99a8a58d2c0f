"""The service's clock: every business "now" and "today" comes from here (R-ELIG-8).

A `Clock` is real time shifted by a fixed offset (zero in production). The clock in force for
the current request lives in a context variable, so that model defaults and services read the
same instant source without threading a parameter through every call.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Clock:
    """Real time plus a fixed offset."""

    offset: timedelta = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def today(self) -> date:
        """Today in Europe/Paris, the calendar of the call's dates."""
        return self.now().astimezone(PARIS).date()


SYSTEM_CLOCK = Clock()
_current: ContextVar[Clock] = ContextVar("guichet_clock", default=SYSTEM_CLOCK)


def current_clock() -> Clock:
    return _current.get()


def use_clock(clock: Clock) -> None:
    """Make `clock` the clock of the running context (one request, one task)."""
    _current.set(clock)


def now() -> datetime:
    """The service's current instant, UTC-aware."""
    return _current.get().now()


def today() -> date:
    """The service's current day in Europe/Paris."""
    return _current.get().today()
