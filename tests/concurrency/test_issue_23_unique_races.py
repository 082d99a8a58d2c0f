"""Issue 23, point 5: rows created under a natural key by concurrent requests. Each request
runs in its own session and transaction; the loser of the race is refused with the rule's
problem (412 or 409), never a 500 (a UNIQUE or PRIMARY KEY violation mapped by
`app.core.db.add_unique`).

On SQLite, BEGIN IMMEDIATE serialises the writers (the loser reads the winner's row and is
refused before inserting); on PostgreSQL the requests really interleave and the constraint
decides: the case the issue reproduced (one 201, five 500).
"""

from __future__ import annotations

import asyncio

from httpx import AsyncClient
from sqlalchemy import func
from sqlmodel import select

from app.auth.principal import Principal, Role
from app.ds.models import DsDemarche
from app.signin.models import MappingRule
from tests.api.ds.test_ds_sync import MAPPING
from tests.concurrency.conftest import World

DINUM = Principal("agent-dinum-issue-23", Role.DINUM)
RACERS = 6


async def test_r_flow_3_six_concurrent_creations_of_a_ds_mapping_give_one_201_and_412s(
    world: World, http: AsyncClient
) -> None:
    number = 923_001
    headers = {**world.headers(DINUM), "If-Match": '"v0"'}
    responses = await asyncio.gather(
        *(
            http.put(f"/api/v1/ds/demarches/{number}/mapping", json=MAPPING, headers=headers)
            for _ in range(RACERS)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [412] * (RACERS - 1), [r.text for r in responses]
    for refused in responses:
        if refused.status_code == 412:
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "R-FLOW-3"
    async with world.sessionmaker() as session, session.begin():
        count = (
            await session.execute(
                select(func.count()).select_from(DsDemarche).where(DsDemarche.number == number)
            )
        ).scalar_one()
    assert count == 1


async def test_r_auth_2_six_concurrent_identical_mapping_rules_give_one_201_and_409s(
    world: World, http: AsyncClient
) -> None:
    body = {"kind": "national_siren", "role": "anct", "value": "130026032"}
    responses = await asyncio.gather(
        *(
            http.post("/api/v1/auth/mappings", json=body, headers=world.headers(DINUM))
            for _ in range(RACERS)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (RACERS - 1), [r.text for r in responses]
    for refused in responses:
        if refused.status_code == 409:
            assert refused.json()["code"] == "R-AUTH-2"
    async with world.sessionmaker() as session, session.begin():
        count = (
            await session.execute(
                select(func.count())
                .select_from(MappingRule)
                .where(MappingRule.value == body["value"])
            )
        ).scalar_one()
    assert count == 1
