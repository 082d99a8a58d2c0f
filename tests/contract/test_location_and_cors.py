"""Issue 12: `Location` on every 201, documented in the contract; CORS exposes the headers a
browser front-end needs to read (ETag, Location, Idempotent-Replayed, Retry-After, rate limit).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.contract.openapi import build_openapi
from app.main import create_app
from tests.api.budgets.driver import STATE_SIREN, Money
from tests.conftest import ACTORS, MARSEILLE_SIREN
from tests.factories import make_candidate
from tests.support import siret_of, test_settings

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "http://localhost:5173"
EXPOSED = {
    "etag",
    "location",
    "idempotent-replayed",
    "retry-after",
    "ratelimit",
    "ratelimit-policy",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
}


def _created_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation["responses"]["201"])
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if "201" in operation.get("responses", {})
    ]


def test_every_201_of_the_contract_documents_location(app: FastAPI) -> None:
    for spec in (json.loads((ROOT / "openapi/openapi.json").read_text()), build_openapi(app)):
        created = _created_operations(spec)
        assert len(created) >= 7  # candidates, projects, evaluations, committees, webhooks, …
        for method, path, response in created:
            header = response.get("headers", {}).get("Location")
            assert header is not None, (method, path)
            assert header["schema"]["type"] == "string"
            assert header["description"]


async def test_a_201_location_reads_what_was_created(
    client: AsyncClient, headers: Any, session: AsyncSession
) -> None:
    await make_candidate(session, siren=MARSEILLE_SIREN)
    await session.commit()
    body = {
        "strand": "3c",
        "title": "Prise de rendez-vous en ligne",
        "description": "Un service de prise de rendez-vous en ligne.",
        "nature": "modernisation",
        "start_on": "2021-06-01",
        "end_on": "2022-06-30",
        "sponsor": {"name": "Mme la Maire", "role": "Maire"},
        "expense_lines": [{"category": "development", "label": "Dév.", "amount_cents": 40_000}],
        "requested_cents": 30_000,
    }
    created = await client.post("/api/v1/projects", json=body, headers=headers(ACTORS.cand_a))
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    assert location == f"/api/v1/projects/{created.json()['id']}"
    read = await client.get(location, headers=headers(ACTORS.cand_a))
    assert read.status_code == 200
    assert read.json()["id"] == created.json()["id"]


async def test_an_idempotent_replay_carries_the_same_location(
    client: AsyncClient, headers: Any, session: AsyncSession
) -> None:
    money = Money(client, session, headers, ACTORS)
    key = str(uuid.uuid4())
    prefecture = {
        "prefecture_name": "Préfecture de la Corse-du-Sud",
        "prefecture_siret": siret_of(STATE_SIREN, "0201"),
    }
    first = await money.allocate("2A", 1_000_000, key=key, prefecture=False, **prefecture)
    replay = await money.allocate("2A", 1_000_000, key=key, prefecture=False, **prefecture)
    assert first.status_code == 201, first.text
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert first.headers["Location"] == replay.headers["Location"] == "/api/v1/envelopes/2A"
    assert (await client.get(first.headers["Location"], headers=headers(ACTORS.dinum))).is_success


async def test_cors_exposes_the_headers_a_front_end_reads(database_url: str) -> None:
    app = create_app(test_settings(database_url, cors_origins=[ORIGIN]))
    try:
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.get("/api/v1/programme", headers={"Origin": ORIGIN})
        assert response.headers["access-control-allow-origin"] == ORIGIN
        exposed = {
            h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
        }
        assert EXPOSED <= exposed, EXPOSED - exposed
    finally:
        await app.state.engine.dispose()
