"""POST/GET/PATCH /candidates: eligibility (R-ELIG-1, R-ELIG-2), reference data (R-REF-1),
verification state at registration (R-REF-2), scope (R-ACL-1) and If-Match (R-FLOW-3),
through the API as a front-end would."""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.candidates.models import Candidate
from tests.conftest import AIX_SIREN, MARSEILLE_SIREN, PARIS_SIREN, Actors
from tests.factories import make_candidate
from tests.support import siret_of

URL = "/api/v1/candidates"
DEPT_13_SIREN = "221300015"  # Département des Bouches-du-Rhône
REGION_PACA_SIREN = "231300021"
CA_TERRE_DE_PROVENCE = "200035087"  # CA of the 13 in the reference data
AMP_METROPOLE = "200054807"  # spans 13, 83, 84: no single département in the reference
SMALL_COMMUNE_13 = "211300033"  # Alleins, 2 852 inhabitants
SYNDICAT_SIREN = "130025265"
OTHER_SIREN = "498720135"  # valid, unknown to the reference


def problem(response) -> dict:  # type: ignore[no-untyped-def, type-arg]
    assert response.headers["content-type"] == "application/problem+json", response.text
    body = response.json()
    assert body["status"] == response.status_code
    return body  # type: ignore[no-any-return]


# -- R-ELIG-1: each kind, accepted or refused with the rule id -----------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"siret": siret_of(MARSEILLE_SIREN), "kind": "commune"},
            {
                "name": "Marseille",
                "departement": "13",
                "population": 886040,
                "commune_insee": "13055",
                "verification": "verified",
            },
        ),
        (
            {"siret": siret_of(CA_TERRE_DE_PROVENCE), "kind": "epci"},
            {
                "name": "CA Terre de Provence",
                "departement": "13",
                "epci_type": "CA",
                "population": 60440,
                "verification": "verified",
            },
        ),
        (
            {"siret": siret_of(AMP_METROPOLE), "kind": "epci", "departement": "13"},
            {
                "name": "Métropole d'Aix-Marseille-Provence",
                "departement": "13",
                "epci_type": "METRO",
                "verification": "verified",
            },
        ),
        (
            {"siret": siret_of(DEPT_13_SIREN), "kind": "departement", "departement": "13"},
            {
                "name": "Département Bouches-du-Rhône",
                "departement": "13",
                "verification": "to_verify",
            },
        ),
        (
            {
                "siret": siret_of(REGION_PACA_SIREN),
                "kind": "region",
                "region": "93",
                "departement": "13",
            },
            {
                "name": "Région Provence-Alpes-Côte d'Azur",
                "region": "93",
                "verification": "to_verify",
            },
        ),
        (
            {
                "siret": siret_of(OTHER_SIREN),
                "kind": "collectivite_outre_mer",
                "departement": "975",
                "name": "Collectivité de Saint-Pierre-et-Miquelon",
            },
            {"departement": "975", "from_reference": False, "verification": "to_verify"},
        ),
        (
            {
                "siret": siret_of(SYNDICAT_SIREN),
                "kind": "syndicat",
                "departement": "13",
                "name": "Syndicat mixte numérique",
            },
            {
                "name": "Syndicat mixte numérique",
                "from_reference": False,
                "verification": "to_verify",
            },
        ),
        (
            {
                "siret": siret_of(OTHER_SIREN),
                "kind": "public_body",
                "departement": "13",
                "name": "SPL numérique",
                "public_body_attestation": True,
            },
            {"public_body_attestation": True, "verification": "to_verify"},
        ),
    ],
    ids=[
        "commune",
        "epci",
        "epci-multi-dep",
        "departement",
        "region",
        "com",
        "syndicat",
        "public-body",
    ],
)
async def test_r_elig_1_eligible_kinds_are_registered(
    client: AsyncClient, actors: Actors, headers, payload: dict, expected: dict
) -> None:
    """R-ELIG-1 kinds; R-REF-2: only communes and EPCI of the reference start `verified`."""
    response = await client.post(URL, json=payload, headers=headers(actors.dinum))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == payload["kind"]
    assert body["siren"] == payload["siret"][:9]
    for key, value in expected.items():
        assert body[key] == value, key
    assert body["verification_reason"] is None and body["verification_decided_at"] is None
    assert response.headers["ETag"] == '"v1"'


@pytest.mark.parametrize("kind", ["association", "company", "state_service", "other"])
async def test_r_elig_1_other_kinds_are_refused_naming_the_rule(
    client: AsyncClient, actors: Actors, headers, session: AsyncSession, kind: str
) -> None:
    response = await client.post(
        URL,
        json={"siret": siret_of(OTHER_SIREN), "kind": kind, "departement": "13", "name": "X"},
        headers=headers(actors.dinum),
    )
    assert response.status_code == 422
    body = problem(response)
    assert body["code"] == "R-ELIG-1"
    assert body["errors"][0]["field"] == "/kind"
    assert "non éligible" in body["detail"]
    assert (await session.execute(select(Candidate))).first() is None


async def test_r_elig_1_public_body_needs_its_attestation(
    client: AsyncClient, actors: Actors, headers
) -> None:
    response = await client.post(
        URL,
        json={
            "siret": siret_of(OTHER_SIREN),
            "kind": "public_body",
            "departement": "13",
            "name": "SPL",
        },
        headers=headers(actors.dinum),
    )
    assert response.status_code == 422
    assert problem(response)["errors"][0]["field"] == "/public_body_attestation"


# -- R-ELIG-2: numbers ---------------------------------------------------------------------


async def test_r_elig_2_invalid_siret_is_refused(
    client: AsyncClient, actors: Actors, headers
) -> None:
    bad = siret_of(MARSEILLE_SIREN)[:-1] + str((int(siret_of(MARSEILLE_SIREN)[-1]) + 1) % 10)
    response = await client.post(
        URL, json={"siret": bad, "kind": "commune"}, headers=headers(actors.dinum)
    )
    assert response.status_code == 422
    body = problem(response)
    assert body["code"] == "R-ELIG-2"
    assert body["errors"][0]["field"] == "/siret"


async def test_r_elig_2_unknown_departement_is_refused(
    client: AsyncClient, actors: Actors, headers
) -> None:
    response = await client.post(
        URL,
        json={
            "siret": siret_of(SYNDICAT_SIREN),
            "kind": "syndicat",
            "departement": "20",
            "name": "Syndicat",
        },
        headers=headers(actors.dinum),
    )
    assert response.status_code == 422
    assert problem(response)["errors"][0] == {
        "code": "R-ELIG-2",
        "field": "/departement",
        "in": "body",
        "message": "Département « 20 » inconnu du code officiel géographique.",
    }


async def test_r_elig_2_one_candidate_per_siren(
    client: AsyncClient, actors: Actors, headers
) -> None:
    first = await client.post(
        URL,
        json={"siret": siret_of(MARSEILLE_SIREN), "kind": "commune"},
        headers=headers(actors.cand_a),
    )
    assert first.status_code == 201
    again = await client.post(
        URL,
        json={"siret": siret_of(MARSEILLE_SIREN, "0002"), "kind": "commune"},
        headers=headers(actors.cand_a),
    )
    assert again.status_code == 409
    assert problem(again)["code"] == "R-ELIG-2"


# -- R-REF-1: reference data ---------------------------------------------------------------


async def test_r_ref_1_commune_by_siren_gets_its_identity_from_the_reference(
    client: AsyncClient, actors: Actors, headers, session: AsyncSession
) -> None:
    response = await client.post(
        URL,
        json={"siret": siret_of(SMALL_COMMUNE_13), "kind": "commune"},
        headers=headers(actors.pref13),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["name"], body["departement"], body["population"]) == ("Alleins", "13", 2852)
    assert body["from_reference"] is True
    stored = (await session.execute(select(Candidate))).scalar_one()
    assert (stored.name, stored.population) == ("Alleins", 2852)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"population": 900000}, "/population"),
        ({"departement": "83"}, "/departement"),
        ({"name": "Lyon"}, "/name"),
    ],
)
async def test_r_ref_1_contradicting_declared_values_are_refused(
    client: AsyncClient, actors: Actors, headers, extra: dict, field: str
) -> None:
    response = await client.post(
        URL,
        json={"siret": siret_of(MARSEILLE_SIREN), "kind": "commune", **extra},
        headers=headers(actors.dinum),
    )
    assert response.status_code == 422
    body = problem(response)
    assert body["code"] == "R-REF-1"
    assert [e["field"] for e in body["errors"]] == [field]


async def test_r_ref_1_matching_declared_values_are_accepted(
    client: AsyncClient, actors: Actors, headers
) -> None:
    response = await client.post(
        URL,
        json={
            "siret": siret_of(MARSEILLE_SIREN),
            "kind": "commune",
            "population": 886040,
            "departement": "13",
            "name": "MARSEILLE",
        },
        headers=headers(actors.dinum),
    )
    assert response.status_code == 201
    assert response.json()["name"] == "Marseille"


async def test_r_ref_1_commune_siren_unknown_to_the_reference_is_refused(
    client: AsyncClient, actors: Actors, headers
) -> None:
    for siren, kind in (
        (OTHER_SIREN, "commune"),
        (CA_TERRE_DE_PROVENCE, "commune"),
        (MARSEILLE_SIREN, "epci"),
    ):
        response = await client.post(
            URL, json={"siret": siret_of(siren), "kind": kind}, headers=headers(actors.dinum)
        )
        assert response.status_code == 422, (siren, kind)
        assert problem(response)["code"] == "R-REF-1"


async def test_r_ref_1_region_must_contain_its_departement(
    client: AsyncClient, actors: Actors, headers
) -> None:
    response = await client.post(
        URL,
        json={
            "siret": siret_of(REGION_PACA_SIREN),
            "kind": "region",
            "region": "93",
            "departement": "75",
        },
        headers=headers(actors.dinum),
    )
    assert response.status_code == 422
    assert problem(response)["code"] == "R-REF-1"


# -- who may register ----------------------------------------------------------------------


async def test_candidate_agent_registers_only_its_own_siren(
    client: AsyncClient, actors: Actors, headers
) -> None:
    response = await client.post(
        URL, json={"siret": siret_of(AIX_SIREN), "kind": "commune"}, headers=headers(actors.cand_a)
    )
    assert response.status_code == 403
    own = await client.post(
        URL,
        json={"siret": siret_of(MARSEILLE_SIREN), "kind": "commune"},
        headers=headers(actors.cand_a),
    )
    assert own.status_code == 201


async def test_r_acl_1_prefect_registers_only_in_its_departement(
    client: AsyncClient, actors: Actors, headers, session: AsyncSession
) -> None:
    """R-ACL-1: another département's organisation is out of scope: 404, nothing stored."""
    for payload in (
        {"siret": siret_of(PARIS_SIREN), "kind": "commune"},
        {
            "siret": siret_of(SYNDICAT_SIREN),
            "kind": "syndicat",
            "departement": "75",
            "name": "Syndicat parisien",
        },
    ):
        response = await client.post(URL, json=payload, headers=headers(actors.pref13))
        assert response.status_code == 404, response.text
        body = problem(response)
        assert body["code"] == "R-ACL-1"
        assert "75" not in body["detail"] and "Paris" not in body["detail"]
    assert (await session.execute(select(Candidate))).first() is None


async def test_anct_and_anonymous_cannot_register(
    client: AsyncClient, actors: Actors, headers
) -> None:
    payload = {"siret": siret_of(MARSEILLE_SIREN), "kind": "commune"}
    assert (await client.post(URL, json=payload, headers=headers(actors.anct))).status_code == 403
    anonymous = await client.post(URL, json=payload)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")


# -- R-ACL-1: reads in scope, 404 outside --------------------------------------------------


@pytest.fixture
async def registered(session: AsyncSession) -> dict[str, Candidate]:
    return {
        "marseille": await make_candidate(session, siren=MARSEILLE_SIREN),
        "aix": await make_candidate(session, siren=AIX_SIREN),
        "paris": await make_candidate(session, siren=PARIS_SIREN),
    }


@pytest.mark.parametrize(
    ("who", "target", "status"),
    [
        ("cand_a", "marseille", 200),
        ("cand_b", "marseille", 404),
        ("cand_a", "paris", 404),
        ("pref13", "marseille", 200),
        ("pref13", "paris", 404),
        ("pref75", "marseille", 404),
        ("pref75", "paris", 200),
        ("dinum", "paris", 200),
        ("anct", "marseille", 200),
    ],
)
async def test_r_acl_1_read_candidate_by_role_and_scope(
    client: AsyncClient,
    actors: Actors,
    headers,
    registered: dict[str, Candidate],
    who: str,
    target: str,
    status: int,
) -> None:
    candidate = registered[target]
    response = await client.get(f"{URL}/{candidate.id}", headers=headers(getattr(actors, who)))
    assert response.status_code == status
    if status == 404:
        assert problem(response)["code"] == "R-ACL-1"
    else:
        assert response.json()["siren"] == candidate.siren
        assert response.headers["ETag"] == '"v1"'


async def test_r_acl_1_unknown_id_is_404_and_malformed_id_422(
    client: AsyncClient, actors: Actors, headers
) -> None:
    missing = await client.get(
        f"{URL}/00000000-0000-4000-8000-000000000000", headers=headers(actors.dinum)
    )
    assert missing.status_code == 404
    malformed = await client.get(f"{URL}/not-a-uuid", headers=headers(actors.dinum))
    assert malformed.status_code == 422


@pytest.mark.parametrize(
    ("who", "query", "expected"),
    [
        ("cand_a", "", {MARSEILLE_SIREN}),
        ("pref13", "", {MARSEILLE_SIREN, AIX_SIREN}),
        ("pref13", "?departement=75", set()),
        ("pref75", "", {PARIS_SIREN}),
        ("dinum", "", {MARSEILLE_SIREN, AIX_SIREN, PARIS_SIREN}),
        ("anct", "?departement=75", {PARIS_SIREN}),
        ("dinum", "?kind=epci", set()),
    ],
)
async def test_r_acl_1_lists_are_scoped_in_the_query(
    client: AsyncClient,
    actors: Actors,
    headers,
    registered: dict[str, Candidate],
    who: str,
    query: str,
    expected: set[str],
) -> None:
    response = await client.get(URL + query, headers=headers(getattr(actors, who)))
    assert response.status_code == 200
    assert {c["siren"] for c in response.json()["items"]} == expected


async def test_list_pagination_walks_every_row_once(
    client: AsyncClient, actors: Actors, headers, registered: dict[str, Candidate]
) -> None:
    seen: list[str] = []
    url = f"{URL}?limit=1"
    while True:
        page = (await client.get(url, headers=headers(actors.dinum))).json()
        seen += [c["siren"] for c in page["items"]]
        if page["next_cursor"] is None:
            break
        url = f"{URL}?limit=1&cursor={page['next_cursor']}"
    assert sorted(seen) == sorted([MARSEILLE_SIREN, AIX_SIREN, PARIS_SIREN])


async def test_list_limit_is_bounded(client: AsyncClient, actors: Actors, headers) -> None:
    assert (await client.get(f"{URL}?limit=201", headers=headers(actors.dinum))).status_code == 422
    assert (await client.get(f"{URL}?limit=0", headers=headers(actors.dinum))).status_code == 422
    bad_cursor = await client.get(f"{URL}?cursor=abc", headers=headers(actors.dinum))
    assert bad_cursor.status_code == 422


async def test_r_sync_1_updated_since_filters_candidates(
    client: AsyncClient, actors: Actors, headers, registered: dict[str, Candidate]
) -> None:
    future = "2999-01-01T00:00:00Z"
    response = await client.get(
        URL, params={"updated_since": future}, headers=headers(actors.dinum)
    )
    assert response.status_code == 200
    assert response.json()["items"] == []
    past = await client.get(
        URL, params={"updated_since": "2000-01-01T00:00:00Z"}, headers=headers(actors.dinum)
    )
    assert len(past.json()["items"]) == 3


# -- PATCH: own organisation only, If-Match (R-FLOW-3), no mass assignment (API3) ----------


async def test_candidate_updates_its_contact_with_if_match(
    client: AsyncClient,
    actors: Actors,
    headers,
    registered: dict[str, Candidate],
    session: AsyncSession,
) -> None:
    url = f"{URL}/{registered['marseille'].id}"
    etag = (await client.get(url, headers=headers(actors.cand_a))).headers["ETag"]
    response = await client.patch(
        url,
        json={"contact": {"email": "dsi@marseille.fr"}},
        headers={**headers(actors.cand_a), "If-Match": etag},
    )
    assert response.status_code == 200, response.text
    assert response.json()["contact"]["email"] == "dsi@marseille.fr"
    assert response.headers["ETag"] == '"v2"'
    stale = await client.patch(
        url,
        json={"contact": {"name": "DSI"}},
        headers={**headers(actors.cand_a), "If-Match": etag},
    )
    assert stale.status_code == 412
    assert problem(stale)["code"] == "R-FLOW-3"
    weak = await client.patch(
        url,
        json={"contact": {"name": "DSI"}},
        headers={**headers(actors.cand_a), "If-Match": 'W/"v2"'},
    )
    assert weak.status_code == 412
    missing = await client.patch(
        url, json={"contact": {"name": "DSI"}}, headers=headers(actors.cand_a)
    )
    assert missing.status_code == 428
    stored = (
        await session.execute(select(Candidate).where(Candidate.siren == MARSEILLE_SIREN))
    ).scalar_one()
    await session.refresh(stored)
    assert (stored.contact_email, stored.contact_name, stored.version) == (
        "dsi@marseille.fr",
        None,
        2,
    )


@pytest.mark.parametrize(
    "body",
    [
        {"siren": AIX_SIREN},
        {"departement": "75"},
        {"status": "accepted"},
        {"id": "00000000-0000-4000-8000-000000000000"},
        {"created_by": "someone"},
        {"version": 9},
    ],
)
async def test_mass_assignment_of_server_owned_fields_is_422_and_changes_nothing(
    client: AsyncClient,
    actors: Actors,
    headers,
    registered: dict[str, Candidate],
    session: AsyncSession,
    body: dict,
) -> None:
    url = f"{URL}/{registered['marseille'].id}"
    response = await client.patch(
        url, json=body, headers={**headers(actors.cand_a), "If-Match": '"v1"'}
    )
    assert response.status_code == 422
    assert problem(response)["errors"][0]["code"] == "extra_forbidden"
    after_response = await client.get(url, headers=headers(actors.cand_a))
    assert after_response.status_code == 200, after_response.text
    after = after_response.json()
    assert (after["siren"], after["departement"], after["version"]) == (MARSEILLE_SIREN, "13", 1)


async def test_r_ref_1_patching_a_reference_population_is_refused(
    client: AsyncClient, actors: Actors, headers, registered: dict[str, Candidate]
) -> None:
    url = f"{URL}/{registered['marseille'].id}"
    response = await client.patch(
        url, json={"population": 10}, headers={**headers(actors.cand_a), "If-Match": '"v1"'}
    )
    assert response.status_code == 422
    assert problem(response)["code"] == "R-REF-1"


@pytest.mark.parametrize(
    ("who", "status"), [("cand_b", 404), ("pref13", 403), ("dinum", 403), ("anct", 403)]
)
async def test_only_the_candidate_itself_may_patch(
    client: AsyncClient,
    actors: Actors,
    headers,
    registered: dict[str, Candidate],
    who: str,
    status: int,
) -> None:
    url = f"{URL}/{registered['marseille'].id}"
    response = await client.patch(
        url,
        json={"contact": {"name": "x"}},
        headers={**headers(getattr(actors, who)), "If-Match": '"v1"'},
    )
    assert response.status_code == status


# -- reference lookup ----------------------------------------------------------------------


async def test_reference_lookup_by_siren(client: AsyncClient, actors: Actors, headers) -> None:
    response = await client.get(
        f"/api/v1/reference/collectivites/{MARSEILLE_SIREN}", headers=headers(actors.cand_b)
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["kind"], body["population"]) == ("Marseille", "commune", 886040)
    assert "decoupage-administratif" in body["source"]
    unknown = await client.get(
        f"/api/v1/reference/collectivites/{OTHER_SIREN}", headers=headers(actors.cand_b)
    )
    assert unknown.status_code == 404
    assert problem(unknown)["code"] == "R-REF-1"
    assert (
        await client.get(f"/api/v1/reference/collectivites/{MARSEILLE_SIREN}")
    ).status_code == 401
