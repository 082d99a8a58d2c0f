"""R-REF-1 through the API: a SIREN the reference knows keeps its kind, an EPCI registers in one
of its member départements, one candidate per département or région; R-ACL-1 and R-ELIG-2 on
registration: nothing tells where an organisation out of scope or already registered is."""

from __future__ import annotations

import json
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.auth.principal import Principal, Role
from app.candidates import repository
from app.candidates.models import Candidate
from tests.api.budgets.driver import problem
from tests.conftest import Actors
from tests.factories import make_candidate
from tests.support import siret_of

URL = "/api/v1/candidates"
PROJECTS = "/api/v1/projects"
AUREILLE_SIREN = "211300066"  # commune of the 13, 1,533 inhabitants
AUREILLE = Principal("agent-aureille", Role.CANDIDATE, siren=AUREILLE_SIREN)
AMP_METROPOLE = "200054807"  # Métropole d'Aix-Marseille-Provence: members in 13, 83, 84
CA_TERRE_DE_PROVENCE = "200035087"  # every member in the 13, so its seat too
DEPT_13_SIREN = "221300015"
DEPT_83_SIREN = "228300018"
REGION_PACA_SIREN = "231300021"
SYNDICAT_SIREN = "130025265"
OTHER_SIREN = "498720135"  # valid, unknown to the reference
PREF83 = Principal("prefet-83", Role.PREFECT, departement="83")
PREF84 = Principal("prefet-84", Role.PREFECT, departement="84")


async def count_candidates(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Candidate))).scalar_one())


# -- a known SIREN has the reference's kind only -------------------------------------------


@pytest.mark.parametrize(
    "declared",
    [
        {"kind": "departement", "departement": "13"},
        {"kind": "region", "region": "93", "departement": "13"},
        {"kind": "syndicat", "departement": "13", "name": "Syndicat d'Aureille"},
        {
            "kind": "public_body",
            "departement": "13",
            "name": "Aureille",
            "public_body_attestation": True,
        },
        {"kind": "collectivite_outre_mer", "departement": "975", "name": "Aureille"},
        {"kind": "epci"},
    ],
    ids=["departement", "region", "syndicat", "public-body", "com", "epci"],
)
async def test_r_ref_1_a_commune_cannot_register_under_another_kind(
    client: AsyncClient, headers, session: AsyncSession, declared: dict[str, Any]
) -> None:
    """R-REF-1: Aureille (a commune) declared as anything else is refused, naming the rule."""
    response = await client.post(
        URL, json={"siret": "21130006600019", **declared}, headers=headers(AUREILLE)
    )
    body = problem(response, 422, "R-REF-1")
    assert [(e["code"], e["field"]) for e in body["errors"]] == [("R-REF-1", "/kind")]
    assert "Aureille" in body["detail"] and "commune" in body["detail"]
    assert await count_candidates(session) == 0


async def test_r_ref_1_an_epci_cannot_register_as_a_departement(
    client: AsyncClient, actors: Actors, headers
) -> None:
    response = await client.post(
        URL,
        json={"siret": siret_of(AMP_METROPOLE), "kind": "departement", "departement": "13"},
        headers=headers(actors.dinum),
    )
    assert problem(response, 422, "R-REF-1")["errors"][0]["field"] == "/kind"


async def test_r_ref_1_aureille_registered_as_a_commune_gets_the_5000_euro_forfait(
    client: AsyncClient, headers
) -> None:
    """R-REF-1 then R-CAP-3: the commune's reference population (1,533) sets its forfait; a
    3a project of 30,000 € gets 5,000 €, not the 20,000 € of a département."""
    refused = await client.post(
        URL,
        json={"siret": "21130006600019", "kind": "departement", "departement": "13"},
        headers=headers(AUREILLE),
    )
    problem(refused, 422, "R-REF-1")
    registered = await client.post(
        URL, json={"siret": "21130006600019", "kind": "commune"}, headers=headers(AUREILLE)
    )
    assert registered.status_code == 201, registered.text
    body = registered.json()
    assert (body["name"], body["kind"], body["departement"], body["population"]) == (
        "Aureille",
        "commune",
        "13",
        1533,
    )
    assert body["verification"] == "verified"  # R-REF-2: confirmed by the reference
    draft = {
        "strand": "3a",
        "title": "Démarches en ligne de la mairie",
        "description": "Un portail de démarches en ligne pour les habitants.",
        "nature": "modernisation",
        "start_on": "2021-03-01",
        "end_on": "2022-06-30",
        "sponsor": {"name": "M. le Maire", "role": "Maire"},
        "expense_lines": [
            {"category": "development", "label": "Développement", "amount_cents": 3_000_000}
        ],
        "requested_cents": 500_000,
    }
    created = await client.post(PROJECTS, json=draft, headers=headers(AUREILLE))
    assert created.status_code == 201, created.text
    report = await client.get(
        f"{PROJECTS}/{created.json()['id']}/eligibility", headers=headers(AUREILLE)
    )
    assert report.status_code == 200, report.text
    figures = report.json()
    assert figures["eligible_cost_cents"] == 3_000_000
    assert figures["forfait_cents"] == 500_000
    assert figures["max_grant_cents"] == 500_000


# -- an EPCI registers in one of its member départements, its seat's by default ----------


@pytest.mark.parametrize("who", ["dinum", "pref13"])
async def test_r_ref_1_a_metropole_of_the_13_declaring_75_is_refused(
    client: AsyncClient, actors: Actors, headers, session: AsyncSession, who: str
) -> None:
    response = await client.post(
        URL,
        json={"siret": siret_of(AMP_METROPOLE), "kind": "epci", "departement": "75"},
        headers=headers(getattr(actors, who)),
    )
    body = problem(response, 422, "R-REF-1")
    assert [e["field"] for e in body["errors"]] == ["/departement"]
    assert "13, 83, 84" in body["detail"]
    assert await count_candidates(session) == 0


@pytest.mark.parametrize(("who", "departement"), [("dinum", "13"), (PREF83, "83"), (PREF84, "84")])
async def test_r_ref_1_a_metropole_registers_in_any_member_departement(
    client: AsyncClient, actors: Actors, headers, who: str | Principal, departement: str
) -> None:
    principal = getattr(actors, who) if isinstance(who, str) else who
    response = await client.post(
        URL,
        json={"siret": siret_of(AMP_METROPOLE), "kind": "epci", "departement": departement},
        headers=headers(principal),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["departement"], body["epci_type"], body["verification"]) == (
        departement,
        "METRO",
        "verified",
    )


async def test_r_ref_1_an_epci_without_known_seat_must_declare_its_departement(
    client: AsyncClient, actors: Actors, headers
) -> None:
    response = await client.post(
        URL, json={"siret": siret_of(AMP_METROPOLE), "kind": "epci"}, headers=headers(actors.dinum)
    )
    body = problem(response, 422, "R-REF-1")
    assert [e["field"] for e in body["errors"]] == ["/departement"]
    assert "siège" in body["detail"]


async def test_r_ref_1_an_epci_defaults_to_its_seat_and_refuses_another_departement(
    client: AsyncClient, actors: Actors, headers
) -> None:
    outside = await client.post(
        URL,
        json={"siret": siret_of(CA_TERRE_DE_PROVENCE), "kind": "epci", "departement": "84"},
        headers=headers(actors.dinum),
    )
    assert problem(outside, 422, "R-REF-1")["errors"][0]["field"] == "/departement"
    by_default = await client.post(
        URL,
        json={"siret": siret_of(CA_TERRE_DE_PROVENCE), "kind": "epci"},
        headers=headers(actors.pref13),
    )
    assert by_default.status_code == 201, by_default.text
    assert by_default.json()["departement"] == "13"


async def test_r_ref_1_reference_lookup_lists_an_epcis_member_departements(
    client: AsyncClient, actors: Actors, headers
) -> None:
    response = await client.get(
        f"/api/v1/reference/collectivites/{AMP_METROPOLE}", headers=headers(actors.pref13)
    )
    assert response.status_code == 200
    assert (response.json()["departement"], response.json()["departements"]) == (
        None,
        ["13", "83", "84"],
    )


# -- one département per département code, one région per région code ---------------------


async def test_r_ref_1_one_candidate_of_kind_departement_per_departement(
    client: AsyncClient, actors: Actors, headers, session: AsyncSession
) -> None:
    first = await client.post(
        URL,
        json={"siret": siret_of(DEPT_13_SIREN), "kind": "departement", "departement": "13"},
        headers=headers(actors.dinum),
    )
    assert first.status_code == 201, first.text
    second = await client.post(
        URL,
        json={"siret": siret_of(OTHER_SIREN), "kind": "departement", "departement": "13"},
        headers=headers(actors.pref13),
    )
    body = problem(second, 409, "R-REF-1")
    assert body["type"].endswith("/territory-already-represented")
    assert "déjà enregistrée comme le département 13" in body["detail"]
    assert DEPT_13_SIREN not in json.dumps(body)
    other = await client.post(
        URL,
        json={"siret": siret_of(DEPT_83_SIREN), "kind": "departement", "departement": "83"},
        headers=headers(actors.dinum),
    )
    assert other.status_code == 201, other.text
    assert await count_candidates(session) == 2


async def test_r_ref_1_one_candidate_of_kind_region_per_region(
    client: AsyncClient, actors: Actors, headers
) -> None:
    first = await client.post(
        URL,
        json={
            "siret": siret_of(REGION_PACA_SIREN),
            "kind": "region",
            "region": "93",
            "departement": "13",
        },
        headers=headers(actors.dinum),
    )
    assert first.status_code == 201, first.text
    second = await client.post(
        URL,
        json={
            "siret": siret_of(OTHER_SIREN),
            "kind": "region",
            "region": "93",
            "departement": "83",
        },
        headers=headers(actors.dinum),
    )
    assert "la région 93" in problem(second, 409, "R-REF-1")["detail"]
    # a département and its région are different territories
    departement = await client.post(
        URL,
        json={"siret": siret_of(DEPT_13_SIREN), "kind": "departement", "departement": "13"},
        headers=headers(actors.dinum),
    )
    assert departement.status_code == 201, departement.text


async def test_r_ref_1_the_database_keeps_one_candidate_per_territory(
    session: AsyncSession,
) -> None:
    """R-REF-1 is the database's too: a second row for the same territory violates it."""
    await make_candidate(
        session, siren=DEPT_13_SIREN, kind="departement", territory="departement:13"
    )
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            await make_candidate(
                session, siren=OTHER_SIREN, kind="departement", territory="departement:13"
            )
    # NULL territories (every other kind) never collide
    await make_candidate(session, siren=SYNDICAT_SIREN)
    await make_candidate(session, siren=OTHER_SIREN)
    assert await count_candidates(session) == 3


async def test_r_ref_1_a_concurrent_registration_of_the_territory_answers_409(
    client: AsyncClient, actors: Actors, headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pre-check lost a race (simulated): the unique constraint still answers 409."""
    created = await client.post(
        URL,
        json={"siret": siret_of(DEPT_13_SIREN), "kind": "departement", "departement": "13"},
        headers=headers(actors.dinum),
    )
    assert created.status_code == 201

    async def nobody_yet(*_args: object) -> None:
        return None

    monkeypatch.setattr(repository, "get_by_territory", nobody_yet)
    racing = await client.post(
        URL,
        json={"siret": siret_of(OTHER_SIREN), "kind": "departement", "departement": "13"},
        headers=headers(actors.dinum),
    )
    problem(racing, 409, "R-REF-1")


# -- R-ACL-1 / R-ELIG-2: an organisation registered elsewhere -----------------------------


@pytest.mark.parametrize(
    "who",
    [
        Principal("prefet-75", Role.PREFECT, departement="75"),
        Principal("agent-syndicat", Role.CANDIDATE, siren=SYNDICAT_SIREN),
        Principal("agent-dinum-2", Role.DINUM),
    ],
    ids=["prefect-75", "its-agent", "dinum"],
)
async def test_r_elig_2_a_siren_registered_elsewhere_answers_409_without_saying_where(
    client: AsyncClient, actors: Actors, headers, session: AsyncSession, who: Principal
) -> None:
    held = await client.post(
        URL,
        json={
            "siret": siret_of(SYNDICAT_SIREN),
            "kind": "syndicat",
            "departement": "13",
            "name": "Syndicat mixte des Alpilles",
        },
        headers=headers(actors.pref13),
    )
    assert held.status_code == 201, held.text
    again = await client.post(
        URL,
        json={
            "siret": siret_of(SYNDICAT_SIREN, "0002"),
            "kind": "syndicat",
            "departement": "75",
            "name": "Syndicat parisien",
        },
        headers=headers(who),
    )
    body = problem(again, 409, "R-ELIG-2")
    body.pop("request_id")  # random: may contain "13" by chance
    text = json.dumps(body, ensure_ascii=False)
    for leak in ("13", "Bouches", "Alpilles", held.json()["id"]):
        assert leak not in text, leak
    assert await count_candidates(session) == 1


async def test_r_acl_1_a_prefect_cannot_probe_another_departements_registrations(
    client: AsyncClient, actors: Actors, headers
) -> None:
    """R-ACL-1: registered or not, another département's commune answers the same 404."""
    payload = {"siret": siret_of(AUREILLE_SIREN), "kind": "commune"}
    before = await client.post(URL, json=payload, headers=headers(actors.pref75))
    assert (await client.post(URL, json=payload, headers=headers(AUREILLE))).status_code == 201
    after = await client.post(URL, json=payload, headers=headers(actors.pref75))
    first, second = problem(before, 404, "R-ACL-1"), problem(after, 404, "R-ACL-1")
    assert first.pop("request_id") != second.pop("request_id")  # each request its own id
    assert first == second
