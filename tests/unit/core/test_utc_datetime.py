"""UTCDateTime: every timestamp is read back timezone-aware in UTC, on both databases; on
asyncpg, which reads a timestamptz as such already, with no processing per value (issue 28)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.types import UTCDateTime


async def test_a_timestamp_is_read_back_aware_in_utc(engine: AsyncEngine) -> None:
    written = datetime(2021, 2, 26, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    stmt = select(literal(written, UTCDateTime()).label("at"))
    async with engine.connect() as connection:
        read = (await connection.execute(stmt)).scalar_one()
    assert read == written
    assert read.tzinfo is UTC
    assert read.isoformat() == "2021-02-26T09:00:00.123456+00:00"
    if engine.dialect.driver == "asyncpg":
        assert UTCDateTime().result_processor(engine.dialect, None) is None
