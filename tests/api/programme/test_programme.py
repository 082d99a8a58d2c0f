"""GET/PATCH /programme."""

from __future__ import annotations

from httpx import AsyncClient

from tests.conftest import Actors


async def test_programme_is_public_and_seeded_with_the_call_values(client: AsyncClient) -> None:
    response = await client.get("/api/v1/programme")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == "FITN7-AXE3"
    assert body["window_opens_on"] == "2021-01-25"
    assert body["results_deadline"] == "2022-12-31"
    assert body["max_duration_months"] == 24
    assert body["funding_cap_rate_bps"] == 10000
    assert body["extra_eu_licence_share_cap_bps"] == 1000
    assert body["committee_filing_threshold"] == 10
    assert [s["code"] for s in body["strands"]] == ["3a", "3b", "3c"]
    assert [f["amount_cents"] for f in body["forfaits"]] == [
        500_000,
        1_000_000,
        2_000_000,
        2_000_000,
        2_000_000,  # R-CAP-3: every other eligible kind
    ]
    assert response.headers["ETag"] == f'"v{body["version"]}"'


async def test_patch_programme_by_dinum_with_if_match(
    client: AsyncClient, actors: Actors, headers
) -> None:
    etag = (await client.get("/api/v1/programme")).headers["ETag"]
    response = await client.patch(
        "/api/v1/programme",
        json={"window_closes_on": "2022-06-30", "committee_filing_threshold": 12},
        headers={**headers(actors.dinum), "If-Match": etag},
    )
    assert response.status_code == 200, response.text
    assert response.json()["window_closes_on"] == "2022-06-30"
    assert response.json()["committee_filing_threshold"] == 12
    assert response.headers["ETag"] != etag
    stale = await client.patch(
        "/api/v1/programme",
        json={"committee_filing_threshold": 9},
        headers={**headers(actors.dinum), "If-Match": etag},
    )
    assert stale.status_code == 412
    assert stale.json()["code"] == "R-FLOW-3"


async def test_patch_programme_without_if_match_is_428(
    client: AsyncClient, actors: Actors, headers
) -> None:
    response = await client.patch(
        "/api/v1/programme", json={"committee_filing_threshold": 9}, headers=headers(actors.dinum)
    )
    assert response.status_code == 428
    assert response.headers["content-type"] == "application/problem+json"


async def test_patch_programme_is_dinum_only(client: AsyncClient, actors: Actors, headers) -> None:
    etag = (await client.get("/api/v1/programme")).headers["ETag"]
    for who in (actors.pref13, actors.anct, actors.cand_a):
        response = await client.patch(
            "/api/v1/programme",
            json={"committee_filing_threshold": 9},
            headers={**headers(who), "If-Match": etag},
        )
        assert response.status_code == 403, who
    anonymous = await client.patch(
        "/api/v1/programme", json={"committee_filing_threshold": 9}, headers={"If-Match": etag}
    )
    assert anonymous.status_code == 401


async def test_patch_programme_refuses_inconsistent_dates(
    client: AsyncClient, actors: Actors, headers
) -> None:
    etag = (await client.get("/api/v1/programme")).headers["ETag"]
    response = await client.patch(
        "/api/v1/programme",
        json={"window_closes_on": "2020-01-01"},
        headers={**headers(actors.dinum), "If-Match": etag},
    )
    assert response.status_code == 422
    assert (await client.get("/api/v1/programme")).json()["window_closes_on"] is None
