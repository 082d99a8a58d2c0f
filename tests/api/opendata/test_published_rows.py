"""Issue 28: the export reads the published rows (`published_grant`), written in the
transaction of each change: the convention's signature, a payment, the settlement, a
cancellation, a new name of the beneficiary. After each, every row equals what the export
computed at read time before (the join of grant, dossier, envelope, candidate and convention:
`computed_rows_stmt`), and the CSV and JSON are byte for byte what that computation wrote
(DOMAIN.md §5: net amount = granted − released; a cancelled grant only for what it paid)."""

from __future__ import annotations

import uuid
from typing import Any

from httpx import AsyncClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audit import service as audit
from app.budgets.models import Convention, Grant, net_amount
from app.candidates.models import Candidate
from app.opendata import rules
from app.opendata.publish import computed
from app.opendata.repository import PUBLISHED, ROW_COLUMNS, computed_rows_stmt
from app.opendata.service import facts_of
from tests.api.budgets.driver import Money
from tests.conftest import ACTORS, AIX_SIREN, MARSEILLE_SIREN
from tests.factories import make_candidate, make_project
from tests.support import TEST_CLOCK_START

CSV_URL = "/api/v1/open-data/subventions.csv"
JSON_URL = "/api/v1/open-data/subventions.json"
GRANT = 1_000_000


async def stored_rows(session: AsyncSession) -> dict[uuid.UUID, tuple[Any, ...]]:
    rows = await session.execute(select(*(PUBLISHED.c[name] for name in ROW_COLUMNS)))
    return {row[0]: tuple(row) for row in rows}


async def computed_rows(session: AsyncSession) -> dict[uuid.UUID, tuple[Any, ...]]:
    """Every grant with a signed convention, as the domains' tables give it now."""
    return {row[0]: computed(row) for row in await session.execute(computed_rows_stmt())}


async def former_export(session: AsyncSession) -> tuple[bytes, bytes]:
    """CSV and JSON as the export wrote them before issue 28: the published grants computed
    by the join at read time (net amount > 0, §5), in the convention's date then grant id."""
    stmt = computed_rows_stmt(net_amount() > 0).order_by(col(Convention.signed_on), col(Grant.id))
    facts = [facts_of(computed(row)[2:]) for row in await session.execute(stmt)]
    csv_text = rules.csv_header() + rules.csv_text(rules.csv_line(f) for f in facts)
    json_text = "[" + ",".join(rules.json_record(f) for f in facts) + "]"
    return csv_text.encode("utf-8"), json_text.encode("utf-8")


async def check(client: AsyncClient, session: AsyncSession) -> dict[uuid.UUID, tuple[Any, ...]]:
    """The rows equal the former computation, and so do the bytes served; returns the rows."""
    stored = await stored_rows(session)
    assert stored == await computed_rows(session)
    csv_bytes, json_bytes = await former_export(session)
    assert (await client.get(CSV_URL)).content == csv_bytes
    assert (await client.get(JSON_URL)).content == json_bytes
    return stored


async def stamps(session: AsyncSession) -> dict[uuid.UUID, Any]:
    rows = await session.execute(select(PUBLISHED.c.grant_id, PUBLISHED.c.updated_at))
    return {row[0]: row[1] for row in rows}


async def net_of(session: AsyncSession, project_id: uuid.UUID) -> int | None:
    stmt = (
        select(PUBLISHED.c.net_cents)
        .join(Grant, col(Grant.id) == PUBLISHED.c.grant_id)
        .where(col(Grant.project_id) == project_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def test_the_published_row_follows_each_event_and_equals_the_former_computation(
    client: AsyncClient, session: AsyncSession, headers: Any
) -> None:
    money = Money(client, session, headers, ACTORS)
    assert (await money.allocate("13", 10_000_000)).status_code == 201
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    aix = await make_candidate(session, siren=AIX_SIREN)
    projects = {}
    for key, candidate in (("settled", marseille), ("paid_then_cancelled", aix),
                           ("cancelled", marseille)):  # fmt: skip
        project = await make_project(
            session, candidate=candidate, status="in_review", start_on=TEST_CLOCK_START.date(),
            title=f"Projet {key}",
        )  # fmt: skip
        projects[key] = project.id
        await money.commit(project.id, GRANT)
    # committed, no convention yet: no row
    assert await check(client, session) == {}

    # the signature writes the row
    for project_id in projects.values():
        assert (await money.convention(project_id)).status_code == 200
    rows = await check(client, session)
    assert len(rows) == 3
    assert {await net_of(session, p) for p in projects.values()} == {GRANT}

    # a payment: the net amount of an active grant is still what it commits (§5)
    before = await stamps(session)
    for key in ("settled", "paid_then_cancelled"):
        assert (await money.pay(projects[key], "advance", 300_000)).status_code == 201
    assert await check(client, session) == rows
    assert await stamps(session) == before  # nothing shown changed: the validators stay

    # the settlement: the balance pays less than what remains, the rest is released
    settled = projects["settled"]
    assert (await money.final_report(settled)).status_code == 200
    assert (await money.pay(settled, "balance", 500_000)).status_code == 201
    await check(client, session)
    assert await net_of(session, settled) == 800_000

    # cancellations: published for what was paid; a grant that paid nothing is not published
    for key in ("paid_then_cancelled", "cancelled"):
        assert (await money.cancel(projects[key])).status_code == 200
    await check(client, session)
    assert await net_of(session, projects["paid_then_cancelled"]) == 300_000
    assert await net_of(session, projects["cancelled"]) == 0  # kept, unpublished
    assert "Projet cancelled" not in (await client.get(CSV_URL)).text

    # what a row shows from elsewhere: the beneficiary's new name (candidates.service)
    renamed = "Ville d'Aix-en-Provence"
    await session.execute(update(Candidate).where(col(Candidate.id) == aix.id).values(name=renamed))
    await audit.record(
        session, ACTORS.dinum, object_type="candidate", object_id=aix.id, departement="13",
        action="updated", before={"name": aix.name}, after={"name": renamed},
    )  # fmt: skip
    await session.commit()
    await check(client, session)
    names = await session.execute(
        select(PUBLISHED.c.beneficiary_name).where(PUBLISHED.c.net_cents > 0)
    )
    assert sorted(names.scalars().all()) == ["Marseille", renamed]


async def test_a_rolled_back_change_leaves_the_rows_alone(
    client: AsyncClient, session: AsyncSession, headers: Any
) -> None:
    """The rows are written at the commit of the change: a failed payment (over its cap,
    R-PAY-1) writes nothing."""
    money = Money(client, session, headers, ACTORS)
    assert (await money.allocate("13", 10_000_000)).status_code == 201
    candidate = await make_candidate(session, siren=MARSEILLE_SIREN)
    project = await make_project(session, candidate=candidate, status="in_review")
    await money.commit(project.id, GRANT)
    assert (await money.convention(project.id)).status_code == 200
    rows = await check(client, session)
    refused = await money.pay(project.id, "advance", GRANT)
    assert refused.status_code in (409, 422), refused.text
    assert await check(client, session) == rows
    named = await session.execute(select(Candidate.name).where(Candidate.id == candidate.id))
    assert [r[6] for r in rows.values()] == [named.scalar_one()]
