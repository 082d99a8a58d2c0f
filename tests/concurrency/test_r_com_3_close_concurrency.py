"""R-COM-3 + R-CAP-4 under real concurrency: two committees of one département closing at once
on an envelope that covers only one of them. Exactly one close succeeds; the other answers 409
and its whole close rolls back; committed ≤ allocated and the ledger reconciles."""

from __future__ import annotations

import asyncio

from httpx import AsyncClient

from app.core.db import get_clock
from tests.concurrency.conftest import World, prefect_of
from tests.support import clock_starting_at

MEMBERS = [{"name": "M. le Préfet", "role": "Préfet"}]


async def test_r_com_3_two_committees_closing_at_once_never_over_commit(
    world: World, http: AsyncClient
) -> None:
    departement, allocated, grant, rounds = "31", 1_000_000, 1_000_000, 3
    # R-COM-2: the committees meet inside the programme and decide on their meeting day
    meeting = clock_starting_at("2021-06-15")
    world.app.dependency_overrides[get_clock] = lambda: meeting
    try:
        await _race(world, http, departement, allocated, grant, rounds)
    finally:
        world.app.dependency_overrides.pop(get_clock, None)


async def _race(
    world: World, http: AsyncClient, departement: str, allocated: int, grant: int, rounds: int
) -> None:
    await world.open_envelope(departement, allocated)
    headers = world.headers(prefect_of(departement))
    dossiers = await world.dossiers_in_review(departement, 2 * rounds)

    winners = []
    for round_ in range(rounds):
        pair = dossiers[2 * round_ : 2 * round_ + 2]
        committees = []
        for pid in pair:
            created = await http.post(
                "/api/v1/committees",
                json={"meeting_on": "2021-06-15", "members": MEMBERS},
                headers=headers,
            )
            assert created.status_code == 201, created.text
            cid = created.json()["id"]
            added = await http.post(
                f"/api/v1/committees/{cid}/agenda",
                json={"add": [str(pid)]},
                headers={**headers, "If-Match": created.headers["ETag"]},
            )
            assert added.status_code == 200, added.text
            decided = await http.post(
                f"/api/v1/committees/{cid}/decisions",
                json={"project_id": str(pid), "outcome": "accepted", "granted_cents": grant},
                headers={**headers, "If-Match": added.headers["ETag"]},
            )
            assert decided.status_code == 200, decided.text
            committees.append((cid, decided.headers["ETag"]))

        results = await asyncio.gather(
            *(
                http.post(f"/api/v1/committees/{cid}/close", headers={**headers, "If-Match": etag})
                for cid, etag in committees
            )
        )
        statuses = sorted(r.status_code for r in results)
        if round_ == 0:
            # the first round has room for one grant: exactly one committee closes
            assert statuses == [200, 409], [r.text for r in results]
            loser = next(r for r in results if r.status_code == 409).json()
            assert loser["code"] == "R-COM-3"
            envelope_item = next(e for e in loser["errors"] if e["field"] == "/envelope")
            assert (envelope_item["code"], envelope_item["shortfall_cents"]) == ("R-CAP-4", grant)
            winners.append(pair[[r.status_code for r in results].index(200)])
        else:
            # the envelope is spent: both lose, and neither changes anything
            assert statuses == [409, 409], [r.text for r in results]
        figures = await world.figures(departement)
        figures.assert_reconciled()
        assert figures.committed == allocated
        assert figures.grants_count == 1
        assert figures.movements == 2  # the allocation and the one commitment

    statuses = await world.project_statuses(dossiers)
    assert [pid for pid, s in statuses.items() if s == "accepted"] == winners
    assert sum(1 for s in statuses.values() if s == "in_review") == 2 * rounds - 1
