"""Use cases of the open-data export: its validators (ETag, Last-Modified) and its rows.

The rows are the published rows (`published_grant`, written by `app.opendata.publish` with
each change, issue 28), read in the export's order from a server-side cursor
(`AsyncSession.stream` with `yield_per`): at most one batch of rows sits in memory, whatever
the number of grants (bench/bench_opendata.py measures it on 100,000). Public and anonymous
(DOMAIN.md §2): nothing here depends on a principal.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import read_only_transaction
from app.opendata import csvlines, rules
from app.opendata.repository import ExportFilter, export_stmt, freshness_stmt

BATCH_ROWS = 1000
# The validators of an export that has never had a grant.
EPOCH = datetime(2021, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Freshness:
    count: int
    last_modified: datetime  # UTC, whole seconds (HTTP dates have no fraction)
    etag: str


async def freshness(session: AsyncSession, f: ExportFilter, *, variant: str) -> Freshness:
    """ETag and Last-Modified of an export in one aggregate query (no row is read)."""
    await read_only_transaction(session)  # SQLite: the export never holds the write lock
    row = (await session.execute(freshness_stmt(f))).one()
    count = int(row[0] or 0)
    stamps = [stamp for stamp in row[1:] if stamp is not None]
    latest = max(stamps, default=EPOCH).astimezone(UTC)
    fingerprint = "|".join(
        [
            variant,
            f.departement or "",
            str(f.programme_id or "*"),
            f.signed_from.isoformat() if f.signed_from else "",
            f.signed_to.isoformat() if f.signed_to else "",
            str(count),
            latest.isoformat(),
        ]
    )
    etag = '"' + hashlib.sha256(fingerprint.encode()).hexdigest()[:32] + '"'
    return Freshness(count, latest.replace(microsecond=0), etag)


def facts_of(row: Sequence[Any]) -> rules.GrantFacts:
    """A row of `export_stmt` (`repository.FACT_COLUMNS`, in that order)."""
    return rules.GrantFacts(
        prefecture_name=row[0],
        prefecture_siret=row[1],
        convention_signed_on=row[2],
        decision_reference=row[3],
        beneficiary_name=row[4],
        beneficiary_siret=row[5],
        title=row[6],
        amount_cents=row[7],
        schedule=rules.Schedule(row[8], row[9], row[10]),
        strand=row[11],
        eligible_cost_cents=row[12],
        dispositif_aide=row[13],
    )


async def published_rows(session: AsyncSession, f: ExportFilter) -> AsyncIterator[Sequence[Any]]:
    """The published rows (issue 28), batch by batch, from a server-side cursor over one
    index range of `published_grant`: each its net amount (§5) and the eligible cost frozen at
    the decision (R-PAY-4), as `app.opendata.publish` wrote them (`FACT_COLUMNS`)."""
    result = await session.stream(export_stmt(f).execution_options(yield_per=BATCH_ROWS))
    try:
        async for batch in result.partitions():
            yield batch
    finally:
        await result.close()


async def grant_facts(
    session: AsyncSession, f: ExportFilter
) -> AsyncIterator[list[rules.GrantFacts]]:
    """The published rows as `GrantFacts`, batch by batch."""
    async for batch in published_rows(session, f):
        yield [facts_of(row) for row in batch]


async def csv_chunks(session: AsyncSession, f: ExportFilter) -> AsyncIterator[bytes]:
    """The SCDL CSV: header, then one chunk of lines per batch (UTF-8, comma, CRLF), written
    from the rows as they come (`csvlines`: the bytes of `rules.csv_lines`)."""
    yield rules.csv_header().encode("utf-8")
    async for batch in published_rows(session, f):
        yield csvlines.csv_lines(batch).encode("utf-8")


async def json_chunks(session: AsyncSession, f: ExportFilter) -> AsyncIterator[bytes]:
    """A JSON array of records, written batch by batch."""
    yield b"["
    first = True
    async for batch in grant_facts(session, f):
        text = ",".join(rules.json_record(facts) for facts in batch)
        if text:
            yield (text if first else "," + text).encode("utf-8")
            first = False
    yield b"]"
