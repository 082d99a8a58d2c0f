"""R-REF-2 at acceptance: a candidate whose identity is not verified can draft and submit, but
none of its dossiers can be accepted (budgets.grants.commit_grant) until its prefect verifies
it; nothing moves on the envelope meanwhile."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from httpx import AsyncClient

from app.auth.principal import Principal, Role
from app.core.errors import AppError
from tests.api.budgets.driver import PROJECTS, Money, figures
from tests.conftest import Actors
from tests.support import file_required_documents, siret_of

CANDIDATES = "/api/v1/candidates"
SYNDICAT_SIREN = "498720135"  # valid, unknown to the reference: a syndicat to verify
AGENT = Principal("agent-syndicat", Role.CANDIDATE, siren=SYNDICAT_SIREN)
DRAFT: dict[str, Any] = {
    "strand": "3c",
    "title": "Système d'information géographique mutualisé",
    "description": "Un SIG partagé par les communes membres du syndicat.",
    "nature": "modernisation",
    "start_on": "2021-03-01",
    "end_on": "2022-06-30",
    "sponsor": {"name": "M. le Président", "role": "Président du syndicat"},
    "expense_lines": [
        {"category": "development", "label": "Développement", "amount_cents": 2_000_000}
    ],
    "requested_cents": 1_000_000,
}


async def act(client: AsyncClient, headers, who: Principal, url: str, body: Any = None) -> Any:  # type: ignore[no-untyped-def]
    """POST `url` with the resource's current ETag, as a front-end would."""
    etag = (await client.get(url.rsplit("/", 1)[0], headers=headers(who))).headers["ETag"]
    return await client.post(url, json=body, headers={**headers(who), "If-Match": etag})


@pytest.fixture
async def in_review(client: AsyncClient, headers, actors: Actors) -> tuple[str, uuid.UUID]:  # type: ignore[no-untyped-def]
    """A syndicat registered by its agent (to_verify), its dossier drafted, submitted and put
    in review through the API: R-REF-2 blocks none of that."""
    registered = await client.post(
        CANDIDATES,
        json={
            "siret": siret_of(SYNDICAT_SIREN),
            "kind": "syndicat",
            "departement": "13",
            "name": "Syndicat mixte numérique des Alpilles",
        },
        headers=headers(AGENT),
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["verification"] == "to_verify"
    created = await client.post(PROJECTS, json=DRAFT, headers=headers(AGENT))
    assert created.status_code == 201, created.text
    project = f"{PROJECTS}/{created.json()['id']}"
    await file_required_documents(client, headers(AGENT), created.json()["id"])  # R-DOC-1
    submitted = await act(client, headers, AGENT, f"{project}/submit")
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "submitted"
    review = await act(client, headers, actors.pref13, f"{project}/start-review")
    assert review.json()["status"] == "in_review", review.text
    return registered.json()["id"], uuid.UUID(created.json()["id"])


async def test_r_ref_2_a_dossier_of_an_unverified_candidate_cannot_be_accepted(
    client: AsyncClient,
    headers,  # type: ignore[no-untyped-def]
    actors: Actors,
    money: Money,
    envelope_13: dict[str, Any],
    in_review: tuple[str, uuid.UUID],
) -> None:
    candidate_id, project_id = in_review
    before = figures(await money.envelope())
    with pytest.raises(AppError) as refused:
        await money.commit(project_id, 1_000_000)
    assert (refused.value.status, refused.value.code) == (409, "R-REF-2")
    assert "vérifiée" in refused.value.detail
    assert figures(await money.envelope()) == before
    assert await money.status(project_id) == "in_review"

    verified = await act(
        client,
        headers,
        actors.pref13,
        f"{CANDIDATES}/{candidate_id}/verify",
        {"decision": "verified"},
    )
    assert verified.status_code == 200, verified.text
    grant = await money.commit(project_id, 1_000_000)
    assert grant.amount_cents == 1_000_000
    assert await money.status(project_id) == "accepted"
    assert figures(await money.envelope())[1] == before[1] + 1_000_000


async def test_r_ref_2_a_refused_candidate_cannot_be_accepted(
    client: AsyncClient,
    headers,  # type: ignore[no-untyped-def]
    actors: Actors,
    money: Money,
    envelope_13: dict[str, Any],
    in_review: tuple[str, uuid.UUID],
) -> None:
    candidate_id, project_id = in_review
    refusal = await act(
        client,
        headers,
        actors.pref13,
        f"{CANDIDATES}/{candidate_id}/verify",
        {"decision": "refused", "reason": "Le syndicat n'a pas fourni ses statuts."},
    )
    assert refusal.json()["verification"] == "refused", refusal.text
    with pytest.raises(AppError) as refused:
        await money.commit(project_id, 1_000_000)
    assert (refused.value.status, refused.value.code) == (409, "R-REF-2")
    assert "refused" in refused.value.detail
