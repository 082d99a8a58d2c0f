"""Moving a development database's clock forward (`python -m app clock`, issue 27 §1; R-ELIG-8).

The service's clock is real time plus an offset stored in `service_clock` (app.core.db). Outside
production an integrator walks a payment schedule by moving that offset on: `clock set
2026-06-15` (09:00 in Paris on a bare date) or `clock advance 30d`. Rules:

- forward only: the clock never reads earlier than it does now, so that no record is ever dated
  after the service's "now" (a backward move is refused, in French);
- refused in production, whose clock is real time (ClockRefused's rule, `settle_offset`);
- audited: one event (`object_type` "clock", national, only DINUM reads it) in the transaction
  that stores the new offset, with the instants before and after.

A running development server rereads the stored offset at most every
`app.core.db.CLOCK_REREAD_SECONDS` (see `get_clock`); a server in another environment reads it at
startup only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import service as audit
from app.auth.principal import Principal, Role
from app.core.clock import PARIS, Clock, use_clock
from app.core.config import Settings
from app.core.db import ServiceClock, load_clock

MICROSECOND = timedelta(microseconds=1)
# The hour a bare date is set to, in Paris: a working morning (the demo's days start there too).
MORNING = time(9, 0)
CONSOLE = Principal("console", Role.DINUM)


class ClockMoveRefused(Exception):
    """The move is refused (production, backward, malformed): its message is for people."""


@dataclass(frozen=True)
class ClockMove:
    before: datetime
    after: datetime
    offset: timedelta


def parse_instant(text: str) -> datetime:
    """`2026-06-15` (09:00 in Paris) or an ISO 8601 instant with its UTC offset."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), MORNING, tzinfo=PARIS)
        instant = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ClockMoveRefused(
            f"« {text} » n'est ni une date (AAAA-MM-JJ) ni un instant ISO 8601 avec son décalage."
        ) from exc
    if instant.tzinfo is None:
        raise ClockMoveRefused(
            f"« {text} » : un instant porte son décalage UTC (ex. 2026-06-15T09:00:00+02:00)."
        )
    return instant


def parse_days(text: str) -> timedelta:
    """`30d` (or `30`): a whole number of days, at least one."""
    match = re.fullmatch(r"(\d+)d?", text.strip())
    if match is None or int(match.group(1)) < 1:
        raise ClockMoveRefused(
            f"« {text} » : avancez d'un nombre entier de jours, au moins un (ex. 30d)."
        )
    return timedelta(days=int(match.group(1)))


def _paris(instant: datetime) -> str:
    return instant.astimezone(PARIS).isoformat(timespec="seconds")


async def move_clock(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    to: datetime | None = None,
    by: timedelta | None = None,
    principal: Principal = CONSOLE,
    if_earlier: bool = False,
) -> ClockMove:
    """Store an offset under which the clock reads `to` now (or reads `by` later than it does).

    Raises ClockMoveRefused in production and for a backward move; with `if_earlier` (the demo
    loader), a clock that already reads `to` or later is left as it is (the move returned has
    `before == after`).
    """
    if settings.environment == "production":
        raise ClockMoveRefused(
            "L'horloge du service est refusée en production : elle y suit le temps réel."
        )
    # fixed and stored at a first start; the audit event is dated by the clock before the move
    use_clock(await load_clock(sessionmaker, settings))
    async with sessionmaker() as session, session.begin():
        row = await session.get(ServiceClock, 1, with_for_update=True)
        assert row is not None  # noqa: S101 - load_clock stored it
        real_now = datetime.now(UTC)
        offset = row.offset_us * MICROSECOND
        before = real_now + offset
        target = before + by if by is not None else to
        if target is None:
            raise ClockMoveRefused("Indiquez une date ou un nombre de jours.")
        if target <= before:
            if if_earlier:
                return ClockMove(before, before, offset)
            raise ClockMoveRefused(
                f"L'horloge du service ne recule jamais : elle indique déjà {_paris(before)}, "
                f"plus tard que {_paris(target)} (des données sont datées jusqu'à son "
                "« maintenant »)."
            )
        new_offset = target - real_now
        row.offset_us = new_offset // MICROSECOND
        row.fixed_at = real_now
        await audit.record(  # R-AUDIT-1: who moved the service's time, from when to when
            session,
            principal,
            object_type="clock",
            object_id="service_clock",
            departement=None,
            action="moved",
            before={"now": _paris(before), "offset_seconds": int(offset.total_seconds())},
            after={"now": _paris(target), "offset_seconds": int(new_offset.total_seconds())},
        )
    return ClockMove(before, target, new_offset)


async def read_clock(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> tuple[Clock, ServiceClock]:
    """The database's clock and its stored row (`clock show`)."""
    clock = await load_clock(sessionmaker, settings)
    async with sessionmaker() as session:
        row = await session.get(ServiceClock, 1)
    assert row is not None  # noqa: S101 - load_clock stored it
    return clock, row
