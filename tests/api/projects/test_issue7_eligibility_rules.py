"""Eligibility rules corrected by issue 7, through the API as a front-end would: licences
without origin (R-EXCL-2), a dossier with nothing eligible (R-EXCL-3), a forfait for every
kind (R-CAP-3), blank required texts (R-ELIG-3), a project that ends after it starts
(R-ELIG-6) and a positive requested amount."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, Role
from app.candidates.models import Candidate
from tests.conftest import MARSEILLE_SIREN, Actors
from tests.factories import make_candidate
from tests.support import file_required_documents

URL = "/api/v1/projects"
AUREILLE_SIREN = "211300066"  # 1 533 inhabitants
AIX_MARSEILLE_METROPOLE_SIREN = "200054807"

DRAFT: dict[str, Any] = {
    "strand": "3c",
    "title": "Prise de rendez-vous en ligne",
    "description": "Un service de prise de rendez-vous en ligne et par téléphone.",
    "nature": "modernisation",
    "start_on": "2021-03-01",
    "end_on": "2022-06-30",
    "sponsor": {"name": "Mme la Maire", "role": "Maire"},
    "expense_lines": [
        {"category": "development", "label": "Développement", "amount_cents": 1_000_000},
    ],
    "requested_cents": 1_000_000,
}


def draft(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(DRAFT)
    body.update(changes)
    return body


@pytest.fixture
async def marseille(session: AsyncSession) -> Candidate:
    return await make_candidate(session, siren=MARSEILLE_SIREN)


async def file_draft(
    client: AsyncClient, headers, who: Principal, body: dict[str, Any]
) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = await client.post(URL, json=body, headers=headers(who))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def eligibility(client: AsyncClient, headers, who: Principal, project_id: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    response = await client.get(f"{URL}/{project_id}/eligibility", headers=headers(who))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def submit(client: AsyncClient, headers, who: Principal, project: dict) -> Response:  # type: ignore[no-untyped-def, type-arg]
    await file_required_documents(client, headers(who), project["id"])  # R-DOC-1 aside
    return await client.post(
        f"{URL}/{project['id']}/submit",
        headers={**headers(who), "If-Match": f'"v{project["version"]}"'},
    )


def licence(origin: str | None) -> dict[str, Any]:
    line: dict[str, Any] = {
        "category": "software_licence",
        "label": "Licence",
        "amount_cents": 5_000_000,
    }
    if origin is not None:
        line["vendor_origin"] = origin
    return line


# -- R-EXCL-2 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "eligible", "excluded"),
    [
        (None, 1_111_111, 4_888_889),  # capped as extra-EU until its origin is stated
        ("extra_eu", 1_111_111, 4_888_889),  # 11 111,11 €: 1 111,11 € of licences = 10 %
        ("eu", 6_000_000, 0),
    ],
)
async def test_r_excl_2_a_licence_without_origin_does_not_escape_the_share_cap(
    client: AsyncClient,
    headers,  # type: ignore[no-untyped-def]
    actors: Actors,
    marseille: Candidate,
    origin: str | None,
    eligible: int,
    excluded: int,
) -> None:
    body = draft(expense_lines=[*DRAFT["expense_lines"], licence(origin)])
    project = await file_draft(client, headers, actors.cand_a, body)  # a draft may lack it
    report = await eligibility(client, headers, actors.cand_a, project["id"])
    assert report["total_cost_cents"] == 6_000_000
    assert report["eligible_cost_cents"] == eligible
    assert report["excluded_cents"] == excluded
    missing = [f for f in report["failures"] if f["code"] == "R-EXCL-2"]
    if origin is None:
        assert missing == [
            {
                "code": "R-EXCL-2",
                "field": "/expense_lines/1/vendor_origin",
                "message": missing[0]["message"],
            }
        ]
        assert report["eligible"] is False
        refused = await submit(client, headers, actors.cand_a, project)
        assert refused.status_code == 422, refused.text
        errors = refused.json()["errors"]
        assert {"code": "R-EXCL-2", "field": "/expense_lines/1/vendor_origin"} in [
            {"code": e["code"], "field": e["field"]} for e in errors
        ]
    else:
        assert missing == []


# -- R-EXCL-3 -------------------------------------------------------------------------------


async def test_r_excl_3_an_all_equipment_dossier_is_refused_naming_each_exclusion(
    client: AsyncClient,
    headers,  # type: ignore[no-untyped-def]
    actors: Actors,
    marseille: Candidate,
) -> None:
    body = draft(
        strand="3b",
        expense_lines=[
            {"category": "equipment_agents", "label": "Tablette", "amount_cents": 60_000}
        ],
        requested_cents=60_000,
    )
    project = await file_draft(client, headers, actors.cand_a, body)
    report = await eligibility(client, headers, actors.cand_a, project["id"])
    assert (report["eligible_cost_cents"], report["max_grant_cents"]) == (0, 0)
    refused = await submit(client, headers, actors.cand_a, project)
    assert refused.status_code == 422, refused.text
    errors = refused.json()["errors"]
    named = [(e["code"], e["field"]) for e in errors if e["code"].startswith(("R-EXCL", "R-CAP"))]
    assert named == [
        ("R-EXCL-3", "/expense_lines"),
        ("R-EXCL-1", "/expense_lines/0"),
        ("R-CAP-1", "/requested_cents"),
    ]


async def test_r_excl_3_licences_cut_to_nothing_name_r_excl_2(
    client: AsyncClient,
    headers,  # type: ignore[no-untyped-def]
    actors: Actors,
    marseille: Candidate,
) -> None:
    """Extra-EU licences and agents' equipment only: nothing else, so no licence allowance."""
    lines = [
        {"category": "equipment_agents", "label": "PC", "amount_cents": 60_000},
        licence("extra_eu"),
    ]
    project = await file_draft(
        client, headers, actors.cand_a, draft(expense_lines=lines, requested_cents=60_000)
    )
    refused = await submit(client, headers, actors.cand_a, project)
    assert refused.status_code == 422, refused.text
    named = [
        (e["code"], e["field"])
        for e in refused.json()["errors"]
        if e["code"].startswith(("R-EXCL", "R-CAP"))
    ]
    assert named == [
        ("R-EXCL-3", "/expense_lines"),
        ("R-EXCL-1", "/expense_lines/0"),
        ("R-EXCL-2", "/expense_lines/1"),
        ("R-CAP-1", "/requested_cents"),
    ]


# -- R-CAP-3 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("siren", "forfait"),
    [
        (AIX_MARSEILLE_METROPOLE_SIREN, 2_000_000),  # métropole: 20 000 €, not 500 000 €
        (AUREILLE_SIREN, 500_000),  # commune under 5 000 inhabitants
        (MARSEILLE_SIREN, 1_000_000),
    ],
)
async def test_r_cap_3_every_kind_gets_a_forfait_in_the_default_schedule(
    client: AsyncClient,
    headers,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    siren: str,
    forfait: int,
) -> None:
    await make_candidate(session, siren=siren)
    who = Principal(f"agent-{siren}", Role.CANDIDATE, siren=siren)
    body = draft(
        strand="3a",
        expense_lines=[
            {"category": "consulting", "label": "Accompagnement", "amount_cents": 50_000_000}
        ],
        requested_cents=50_000_000,
    )
    project = await file_draft(client, headers, who, body)
    report = await eligibility(client, headers, who, project["id"])
    assert report["forfait_cents"] == forfait
    assert report["max_grant_cents"] == forfait
    assert report["eligible"] is False  # 500 000 € asked


@pytest.mark.parametrize("kind", ["syndicat", "collectivite_outre_mer", "public_body"])
async def test_r_cap_3_kinds_outside_the_reference_get_20_000_euros(
    client: AsyncClient,
    headers,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    kind: str,
) -> None:
    siren = "130000003"  # not in the reference
    await make_candidate(session, siren=siren, kind=kind, population=None)
    who = Principal("agent-other", Role.CANDIDATE, siren=siren)
    body = draft(
        strand="3a",
        expense_lines=[
            {"category": "consulting", "label": "Accompagnement", "amount_cents": 5_000_000}
        ],
        requested_cents=2_000_000,
    )
    project = await file_draft(client, headers, who, body)
    report = await eligibility(client, headers, who, project["id"])
    assert (report["forfait_cents"], report["max_grant_cents"]) == (2_000_000, 2_000_000)


# -- R-ELIG-3 and required texts ------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"sponsor": {"name": " ", "role": " "}}, "/sponsor/name", "R-ELIG-3"),
        ({"sponsor": {"name": "Mme la Maire", "role": "\t "}}, "/sponsor/role", "R-ELIG-3"),
        ({"title": " "}, "/title", "blank"),
        ({"description": " \n "}, "/description", "blank"),
        (
            {"expense_lines": [{"category": "study", "label": "  ", "amount_cents": 1}]},
            "/expense_lines/0/label",
            "blank",
        ),
    ],
)
async def test_r_elig_3_blank_required_texts_are_refused(
    client: AsyncClient,
    headers,  # type: ignore[no-untyped-def]
    actors: Actors,
    marseille: Candidate,
    changes: dict[str, Any],
    field: str,
    code: str,
) -> None:
    response = await client.post(URL, json=draft(**changes), headers=headers(actors.cand_a))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert {"code": code, "field": field} in [
        {"code": e["code"], "field": e["field"]} for e in response.json()["errors"]
    ]
    # a PATCH of a draft is held to the same rule
    project = await file_draft(client, headers, actors.cand_a, DRAFT)
    patched = await client.patch(
        f"{URL}/{project['id']}",
        json=changes,
        headers={**headers(actors.cand_a), "If-Match": f'"v{project["version"]}"'},
    )
    assert patched.status_code == 422, patched.text


async def test_r_elig_3_texts_are_kept_as_sent(
    client: AsyncClient,
    headers,  # type: ignore[no-untyped-def]
    actors: Actors,
    marseille: Candidate,
) -> None:
    body = draft(title="  Prise de RDV  ", sponsor={"name": " Mme la Maire", "role": "Maire "})
    project = await file_draft(client, headers, actors.cand_a, body)
    assert project["title"] == "  Prise de RDV  "
    assert project["sponsor"] == {"name": " Mme la Maire", "role": "Maire "}


# -- R-ELIG-6 and the requested amount -----------------------------------------------------


@pytest.mark.parametrize(
    ("end_on", "failed"), [("2021-03-01", True), ("2021-03-02", False), ("2021-02-28", True)]
)
async def test_r_elig_6_a_project_ends_after_it_starts(
    client: AsyncClient,
    headers,  # type: ignore[no-untyped-def]
    actors: Actors,
    marseille: Candidate,
    end_on: str,
    failed: bool,
) -> None:
    project = await file_draft(client, headers, actors.cand_a, draft(end_on=end_on))
    report = await eligibility(client, headers, actors.cand_a, project["id"])
    r_elig_6 = [f for f in report["failures"] if f["code"] == "R-ELIG-6"]
    assert bool(r_elig_6) is failed
    if failed:
        assert r_elig_6[0]["field"] == "/end_on"


@pytest.mark.parametrize(("requested", "failed"), [(0, True), (1, False)])
async def test_requested_amount_must_be_positive(
    client: AsyncClient,
    headers,  # type: ignore[no-untyped-def]
    actors: Actors,
    marseille: Candidate,
    requested: int,
    failed: bool,
) -> None:
    project = await file_draft(client, headers, actors.cand_a, draft(requested_cents=requested))
    report = await eligibility(client, headers, actors.cand_a, project["id"])
    fields = [f["field"] for f in report["failures"] if f["code"] == "required"]
    assert ("/requested_cents" in fields) is failed
