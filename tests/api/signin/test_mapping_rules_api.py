"""R-AUTH-2: the mapping rules DINUM manages through the API (in the suite's rolled-back
transaction): validation stated in the contract, duplicates, deletion, the audit trail, and
the token exchange answering 404 where ProConnect is not configured."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.audit.models import AuditEvent
from tests.conftest import Actors

MAPPINGS = "/api/v1/auth/mappings"


async def test_r_auth_2_dinum_creates_lists_and_deletes_a_rule(
    client: AsyncClient, actors: Actors, headers: Any, session: AsyncSession
) -> None:
    body = {
        "kind": "prefect_siret",
        "departement": "2A",
        "value": "17200001900015",
        "note": "Préfecture de Corse-du-Sud",
    }
    created = await client.post(MAPPINGS, json=body, headers=headers(actors.dinum))
    assert created.status_code == 201, created.text
    rule = created.json()
    assert (rule["role"], rule["match"], rule["departement"]) == ("prefect", "siret", "2A")
    assert rule["created_by"] == actors.dinum.subject
    listed = await client.get(MAPPINGS, headers=headers(actors.dinum))
    assert rule["id"] in {item["id"] for item in listed.json()["items"]}
    again = await client.post(MAPPINGS, json=body, headers=headers(actors.dinum))
    assert again.status_code == 409
    assert again.json()["code"] == "R-AUTH-2"
    deleted = await client.delete(f"{MAPPINGS}/{rule['id']}", headers=headers(actors.dinum))
    assert deleted.status_code == 204
    gone = await client.delete(f"{MAPPINGS}/{rule['id']}", headers=headers(actors.dinum))
    assert gone.status_code == 404
    events = (
        (
            await session.execute(
                select(AuditEvent)
                .where(col(AuditEvent.object_id) == rule["id"])
                .order_by(col(AuditEvent.seq))
            )
        )
        .scalars()
        .all()
    )
    assert [(e.action, e.departement) for e in events] == [("created", "2A"), ("deleted", "2A")]


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "national_siret", "role": "dinum", "value": "130025265"},  # a SIREN
        {"kind": "national_siren", "role": "prefect", "value": "130025265"},  # not national
        {"kind": "prefect_siret", "value": "17200001900015"},  # no département
        {"kind": "prefect_siret", "departement": "20", "value": "17200001900015"},
        {"kind": "prefect_email_domain", "departement": "13", "value": "Gouv.FR"},
        {"kind": "national_siren", "role": "dinum", "value": "130025265", "id": "x"},
        {"kind": "anything", "role": "dinum", "value": "130025265"},
    ],
)
async def test_r_auth_2_a_malformed_rule_gets_422(
    client: AsyncClient, actors: Actors, headers: Any, body: dict[str, Any]
) -> None:
    response = await client.post(MAPPINGS, json=body, headers=headers(actors.dinum))
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("actor", ["anct", "pref13", "cand_a"])
async def test_r_auth_2_only_dinum_manages_rules(
    client: AsyncClient, actors: Actors, headers: Any, actor: str
) -> None:
    body = {"kind": "national_siren", "role": "anct", "value": "130026032"}
    response = await client.post(MAPPINGS, json=body, headers=headers(getattr(actors, actor)))
    assert response.status_code == 403


async def test_r_auth_2_without_proconnect_the_exchange_answers_404(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/token",
        json={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": "a.b.c",
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        },
    )
    assert response.status_code == 404
    assert response.json()["code"] == "proconnect-not-configured"
    login = await client.get("/api/v1/auth/proconnect/login")
    assert login.status_code == 404


async def test_r_auth_2_an_unknown_one_time_code_gets_422(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/token", json={"grant_type": "authorization_code", "code": "A" * 43}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "R-AUTH-2"


async def test_r_auth_2_without_a_service_key_the_jwks_is_empty(client: AsyncClient) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.json() == {"keys": []}
