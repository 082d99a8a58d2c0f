"""Required texts are refused when blank once trimmed, on every resource (issue 7: "required
texts"), and kept as sent otherwise: candidates' declared names and contacts, programme labels.
(Projects and budgets: tests/api/projects/test_issue7_eligibility_rules.py and
tests/api/budgets/test_issue7_money_rules.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from app.auth.principal import Principal, Role
from tests.conftest import MARSEILLE_SIREN, Actors
from tests.support import siret_of

SYNDICAT_SIREN = "130025265"
SYNDICAT_AGENT = Principal("agent-syndicat", Role.CANDIDATE, siren=SYNDICAT_SIREN)
BLANKS = [" ", "\t\n", "\u00a0 "]


def refused_field(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {e["field"]: e["code"] for e in response.json()["errors"]}


@pytest.mark.parametrize("blank", BLANKS)
async def test_a_declared_name_cannot_be_blank(client: AsyncClient, headers, blank: str) -> None:  # type: ignore[no-untyped-def]
    body = {
        "siret": siret_of(SYNDICAT_SIREN),
        "kind": "syndicat",
        "departement": "13",
        "name": blank,
    }
    response = await client.post("/api/v1/candidates", json=body, headers=headers(SYNDICAT_AGENT))
    assert refused_field(response) == {"/name": "blank"}
    kept = await client.post(
        "/api/v1/candidates",
        json={**body, "name": "  Syndicat mixte numérique "},
        headers=headers(SYNDICAT_AGENT),
    )
    assert kept.status_code == 201, kept.text
    assert kept.json()["name"] == "  Syndicat mixte numérique "  # kept as sent


async def test_a_contact_name_cannot_be_blank(client: AsyncClient, actors: Actors, headers) -> None:  # type: ignore[no-untyped-def]
    body = {
        "siret": siret_of(MARSEILLE_SIREN),
        "kind": "commune",
        "contact": {"name": "   ", "email": "numerique@marseille.fr"},
    }
    response = await client.post("/api/v1/candidates", json=body, headers=headers(actors.cand_a))
    assert refused_field(response) == {"/contact/name": "blank"}


async def test_a_programme_label_cannot_be_blank(
    client: AsyncClient, actors: Actors, headers
) -> None:  # type: ignore[no-untyped-def]
    etag = (await client.get("/api/v1/programme")).headers["ETag"]
    response = await client.patch(
        "/api/v1/programme",
        json={"title": " "},
        headers={**headers(actors.dinum), "If-Match": etag},
    )
    assert refused_field(response) == {"/title": "blank"}
    assert (await client.get("/api/v1/programme")).headers["ETag"] == etag  # nothing changed
