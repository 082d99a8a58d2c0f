"""The service's clock: every business "now" and "today" comes from here (R-ELIG-8).

A `Clock` is real time shifted by a fixed offset (zero in production). The clock in force for
the current request lives in a context variable, so that model defaults and services read the
same instant source without threading a parameter through every call. The request dependency
that sets it is `app.core.db.get_clock` (tests override it); the offset itself is fixed once per
database (`app.core.db.load_clock`), following `settle_offset` below.

Token lifetimes, rate limits, webhook signatures and anything exchanged with an outside system
keep the real time (`time.time()`, `datetime.now(UTC)` in their own modules), never this clock.
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

    @classmethod
    def starting_at(cls, instant: datetime, *, real_now: datetime | None = None) -> Clock:
        """A clock that reads `instant` now (at `real_now`) and runs on from there."""
        if instant.tzinfo is None:
            raise ValueError("a clock starts at an aware instant (ISO 8601 with its offset)")
        return cls(instant - (real_now or datetime.now(UTC)))

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


class ClockRefused(RuntimeError):
    """The database's clock cannot run under these settings: the service must not start."""


def settle_offset(
    stored: timedelta | None,
    clock_start: datetime | None,
    *,
    real_now: datetime,
    production: bool,
) -> timedelta:
    """The offset the service runs with on a database (pure: the caller stores a new one).

    The database owns its timeline. Its offset is fixed at its first start: from
    GUICHET_CLOCK_START when set (the clock reads that instant then, and runs on), zero without
    it. Afterwards the stored offset is kept whatever the setting says, so that a restart
    continues the service's time instead of rewinding (or jumping) it over existing records;
    a different start needs a fresh database. Production never runs on a shifted clock: the
    setting is refused by the settings, and a database whose stored offset is not zero refuses
    to start (ClockRefused).
    """
    if stored is not None:
        offset = stored
    elif clock_start is not None:
        offset = Clock.starting_at(clock_start, real_now=real_now).offset
    else:
        offset = timedelta(0)
    if production and offset != timedelta(0):
        raise ClockRefused(
            "this database's clock is shifted from real time (it was started with "
            "GUICHET_CLOCK_START): it cannot serve in production"
        )
    return offset
