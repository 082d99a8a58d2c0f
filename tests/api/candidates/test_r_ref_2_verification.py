"""R-REF-2 through the API: candidates the reference cannot confirm are `to_verify` until the
prefect of their département verifies or refuses them (POST /candidates/{id}/verify, If-Match),
shown in reads and filterable in lists."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.auth.principal import Principal, Role
from app.candidates.models import Candidate
from tests.api.budgets.driver import problem
from tests.conftest import MARSEILLE_SIREN, Actors
from tests.support import siret_of

URL = "/api/v1/candidates"
SYNDICAT_SIREN = "130025265"
SYNDICAT_AGENT = Principal("agent-syndicat", Role.CANDIDATE, siren=SYNDICAT_SIREN)
DEPT_13_SIREN = "221300015"
REFUSAL = "Statuts non fournis : la qualité de syndicat n'est pas établie."


@pytest.fixture
async def syndicat(client: AsyncClient, headers) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A syndicat of the 13, registered by its own agent: the reference cannot confirm it."""
    response = await client.post(
        URL,
        json={
            "siret": siret_of(SYNDICAT_SIREN),
            "kind": "syndicat",
            "departement": "13",
            "name": "Syndicat mixte numérique",
        },
        headers=headers(SYNDICAT_AGENT),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["verification"] == "to_verify"
    return body


async def verify(
    client: AsyncClient,
    headers,  # type: ignore[no-untyped-def]
    who: Principal,
    candidate_id: str,
    body: dict[str, Any],
    if_match: str | None = '"v1"',
):  # type: ignore[no-untyped-def]
    extra = {"If-Match": if_match} if if_match is not None else {}
    return await client.post(
        f"{URL}/{candidate_id}/verify", json=body, headers={**headers(who), **extra}
    )


async def test_r_ref_2_the_prefect_verifies_a_syndicat(
    client: AsyncClient, actors: Actors, headers, syndicat: dict[str, Any], session: AsyncSession
) -> None:
    response = await verify(
        client, headers, actors.pref13, syndicat["id"], {"decision": "verified"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"v2"'
    body = response.json()
    assert (body["verification"], body["verification_reason"]) == ("verified", None)
    assert body["verification_decided_at"] is not None
    assert body["version"] == 2
    read = await client.get(f"{URL}/{syndicat['id']}", headers=headers(SYNDICAT_AGENT))
    assert read.json()["verification"] == "verified"
    assert read.headers["ETag"] == '"v2"'
    stored = (
        await session.execute(select(Candidate).where(Candidate.siren == SYNDICAT_SIREN))
    ).scalar_one()
    await session.refresh(stored)
    assert (stored.verification, stored.verification_decided_by) == ("verified", "prefet-13")


async def test_r_ref_2_a_refusal_states_its_reason(
    client: AsyncClient, actors: Actors, headers, syndicat: dict[str, Any]
) -> None:
    for body in ({"decision": "refused"}, {"decision": "refused", "reason": "   "}):
        missing = await verify(client, headers, actors.pref13, syndicat["id"], body)
        refusal = problem(missing, 422, "R-REF-2")
        assert [e["field"] for e in refusal["errors"]] == ["/reason"]
        assert "motivé" in refusal["detail"]
    refused = await verify(
        client, headers, actors.pref13, syndicat["id"], {"decision": "refused", "reason": REFUSAL}
    )
    assert refused.status_code == 200, refused.text
    assert (refused.json()["verification"], refused.json()["verification_reason"]) == (
        "refused",
        REFUSAL,
    )
    # the candidate reads why
    read = await client.get(f"{URL}/{syndicat['id']}", headers=headers(SYNDICAT_AGENT))
    assert read.json()["verification_reason"] == REFUSAL


async def test_r_ref_2_verify_needs_if_match(
    client: AsyncClient, actors: Actors, headers, syndicat: dict[str, Any]
) -> None:
    decision = {"decision": "verified"}
    missing = await verify(client, headers, actors.pref13, syndicat["id"], decision, None)
    problem(missing, 428, "R-FLOW-3")
    stale = await verify(client, headers, actors.pref13, syndicat["id"], decision, '"v0"')
    problem(stale, 412, "R-FLOW-3")
    read = await client.get(f"{URL}/{syndicat['id']}", headers=headers(actors.pref13))
    assert (read.json()["verification"], read.json()["version"]) == ("to_verify", 1)


@pytest.mark.parametrize("who", ["dinum", "anct", "cand_a"])
async def test_r_ref_2_only_a_prefect_verifies(
    client: AsyncClient, actors: Actors, headers, syndicat: dict[str, Any], who: str
) -> None:
    response = await verify(
        client, headers, getattr(actors, who), syndicat["id"], {"decision": "verified"}
    )
    problem(response, 403, "forbidden-role")
    # nor the candidate itself
    own = await verify(client, headers, SYNDICAT_AGENT, syndicat["id"], {"decision": "verified"})
    problem(own, 403, "forbidden-role")


async def test_r_acl_1_another_departements_prefect_gets_404(
    client: AsyncClient, actors: Actors, headers, syndicat: dict[str, Any]
) -> None:
    response = await verify(
        client, headers, actors.pref75, syndicat["id"], {"decision": "verified"}
    )
    problem(response, 404, "R-ACL-1")
    unknown = await verify(
        client,
        headers,
        actors.pref13,
        "00000000-0000-4000-8000-000000000000",
        {"decision": "verified"},
    )
    problem(unknown, 404, "R-ACL-1")


async def test_r_ref_2_a_commune_is_confirmed_by_the_reference_not_by_the_prefect(
    client: AsyncClient, actors: Actors, headers
) -> None:
    commune = await client.post(
        URL,
        json={"siret": siret_of(MARSEILLE_SIREN), "kind": "commune"},
        headers=headers(actors.cand_a),
    )
    assert commune.json()["verification"] == "verified"
    response = await verify(
        client, headers, actors.pref13, commune.json()["id"], {"decision": "refused", "reason": "x"}
    )
    assert problem(response, 422, "R-REF-2")["errors"][0]["field"] == "/decision"


@pytest.mark.parametrize(
    "body",
    [{"decision": "to_verify"}, {"decision": "maybe"}, {}, {"decision": "verified", "by": "x"}],
)
async def test_r_ref_2_decision_is_verified_or_refused(
    client: AsyncClient, actors: Actors, headers, syndicat: dict[str, Any], body: dict[str, Any]
) -> None:
    response = await verify(client, headers, actors.pref13, syndicat["id"], body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_r_ref_2_lists_filter_by_verification(
    client: AsyncClient, actors: Actors, headers, syndicat: dict[str, Any]
) -> None:
    commune = await client.post(
        URL,
        json={"siret": siret_of(MARSEILLE_SIREN), "kind": "commune"},
        headers=headers(actors.cand_a),
    )
    departement = await client.post(
        URL,
        json={"siret": siret_of(DEPT_13_SIREN), "kind": "departement", "departement": "13"},
        headers=headers(actors.pref13),
    )
    assert departement.json()["verification"] == "to_verify"
    refused = await verify(
        client,
        headers,
        actors.pref13,
        departement.json()["id"],
        {"decision": "refused", "reason": "Délibération manquante."},
    )
    assert refused.status_code == 200, refused.text

    async def sirens(query: str, who: Principal) -> set[str]:
        response = await client.get(f"{URL}{query}", headers=headers(who))
        assert response.status_code == 200, response.text
        return {c["siren"] for c in response.json()["items"]}

    assert await sirens("?verification=to_verify", actors.pref13) == {SYNDICAT_SIREN}
    assert await sirens("?verification=verified", actors.pref13) == {MARSEILLE_SIREN}
    assert await sirens("?verification=refused", actors.dinum) == {DEPT_13_SIREN}
    assert await sirens("?verification=to_verify", actors.pref75) == set()
    assert await sirens("", actors.pref13) == {
        SYNDICAT_SIREN,
        MARSEILLE_SIREN,
        DEPT_13_SIREN,
    }
    assert commune.json()["verification"] == "verified"
    bad = await client.get(f"{URL}?verification=maybe", headers=headers(actors.dinum))
    assert bad.status_code == 422


async def test_r_ref_2_a_renamed_syndicat_is_verified_again(
    client: AsyncClient, actors: Actors, headers, syndicat: dict[str, Any]
) -> None:
    verified = await verify(
        client, headers, actors.pref13, syndicat["id"], {"decision": "verified"}
    )
    assert verified.json()["verification"] == "verified"
    contact = await client.patch(
        f"{URL}/{syndicat['id']}",
        json={"contact": {"email": "dsi@syndicat.fr"}},
        headers={**headers(SYNDICAT_AGENT), "If-Match": '"v2"'},
    )
    assert contact.status_code == 200, contact.text
    assert contact.json()["verification"] == "verified"  # a contact is not its identity
    renamed = await client.patch(
        f"{URL}/{syndicat['id']}",
        json={"name": "Syndicat mixte des Bouches-du-Rhône"},
        headers={**headers(SYNDICAT_AGENT), "If-Match": contact.headers["ETag"]},
    )
    assert renamed.status_code == 200, renamed.text
    body = renamed.json()
    assert (body["verification"], body["verification_decided_at"]) == ("to_verify", None)


@pytest.mark.parametrize(
    "field",
    [
        {"verification": "verified"},
        {"verification_reason": "x"},
        {"verification_decided_at": "2021-01-01T00:00:00Z"},
        {"territory": "departement:75"},
    ],
)
async def test_r_ref_2_a_candidate_cannot_verify_itself_by_mass_assignment(
    client: AsyncClient, headers, syndicat: dict[str, Any], field: dict[str, Any]
) -> None:
    """API3: the verification state is the prefect's; a body carrying it is refused (422)."""
    created = await client.post(
        URL,
        json={
            "siret": siret_of(DEPT_13_SIREN),
            "kind": "departement",
            "departement": "13",
            **field,
        },
        headers=headers(Principal("agent-cd13", Role.CANDIDATE, siren=DEPT_13_SIREN)),
    )
    assert created.status_code == 422
    patched = await client.patch(
        f"{URL}/{syndicat['id']}",
        json=field,
        headers={**headers(SYNDICAT_AGENT), "If-Match": '"v1"'},
    )
    assert patched.status_code == 422
    assert patched.json()["errors"][0]["code"] == "extra_forbidden"
    read = await client.get(f"{URL}/{syndicat['id']}", headers=headers(SYNDICAT_AGENT))
    assert (read.json()["verification"], read.json()["version"]) == ("to_verify", 1)
