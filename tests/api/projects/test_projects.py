"""/projects through the API: filing and editing drafts (R-FLOW-3), the eligibility report
(R-EXCL-1, R-EXCL-2, R-CAP-1, R-CAP-2, R-ELIG-3..7), scope (R-ACL-1) and lists (R-SYNC-1)."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import select

from app.candidates.models import Candidate
from app.projects.models import Project
from tests.conftest import AIX_SIREN, MARSEILLE_SIREN, PARIS_SIREN, Actors
from tests.factories import make_candidate, make_project
from tests.support import file_required_documents

URL = "/api/v1/projects"

DRAFT: dict[str, Any] = {
    "strand": "3c",
    "title": "Prise de rendez-vous en ligne",
    "description": "Un service de prise de rendez-vous en ligne et par téléphone.",
    "nature": "modernisation",
    "start_on": "2021-03-01",
    "end_on": "2022-06-30",
    "sponsor": {"name": "Mme la Maire", "role": "Maire"},
    "team": [{"name": "A. Martin", "role": "Cheffe de projet", "availability_pct": 50}],
    "agents_impacted": 40,
    "users_impacted": 20_000,
    "expense_lines": [
        {"category": "development", "label": "Développement", "amount_cents": 4_000_000},
        {"category": "equipment_agents", "label": "Portables", "amount_cents": 600_000},
        {
            "category": "software_licence",
            "label": "Licence",
            "amount_cents": 500_000,
            "vendor_origin": "extra_eu",
        },
    ],
    "other_funding": [{"funder": "Région", "amount_cents": 500_000}],
    "requested_cents": 3_000_000,
}


def problem(response) -> dict:  # type: ignore[no-untyped-def, type-arg]
    assert response.headers["content-type"] == "application/problem+json", response.text
    assert response.json()["status"] == response.status_code
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
async def candidates(session: AsyncSession) -> dict[str, Candidate]:
    return {
        "marseille": await make_candidate(session, siren=MARSEILLE_SIREN),
        "aix": await make_candidate(session, siren=AIX_SIREN),
        "paris": await make_candidate(session, siren=PARIS_SIREN),
    }


@pytest.fixture
async def project_13(session: AsyncSession, candidates: dict[str, Candidate]) -> Project:
    return await make_project(session, candidate=candidates["marseille"])


@pytest.fixture
async def project_75(session: AsyncSession, candidates: dict[str, Candidate]) -> Project:
    return await make_project(session, candidate=candidates["paris"], title="Paris numérique")


# -- filing a draft -------------------------------------------------------------------------


async def test_candidate_files_a_draft_for_its_own_organisation(
    client: AsyncClient, actors: Actors, headers, candidates: dict[str, Candidate]
) -> None:
    response = await client.post(URL, json=DRAFT, headers=headers(actors.cand_a))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "draft"
    assert body["candidate_id"] == str(candidates["marseille"].id)
    assert body["candidate_name"] == "Marseille"
    assert body["departement"] == "13"
    assert body["total_cost_cents"] == 5_100_000
    assert [line["category"] for line in body["expense_lines"]] == [
        "development",
        "equipment_agents",
        "software_licence",
    ]
    assert body["sponsor"] == {"name": "Mme la Maire", "role": "Maire"}
    assert response.headers["ETag"] == '"v1"'


async def test_filing_needs_a_registered_organisation(
    client: AsyncClient, actors: Actors, headers
) -> None:
    response = await client.post(URL, json=DRAFT, headers=headers(actors.cand_a))
    assert response.status_code == 409
    assert problem(response)["code"] == "candidate-not-registered"


@pytest.mark.parametrize("who", ["pref13", "dinum", "anct"])
async def test_only_candidates_file_dossiers(
    client: AsyncClient, actors: Actors, headers, candidates: dict[str, Candidate], who: str
) -> None:
    response = await client.post(URL, json=DRAFT, headers=headers(getattr(actors, who)))
    assert response.status_code == 403


@pytest.mark.parametrize(
    "field",
    [
        {"status": "accepted"},
        {"granted_cents": 100},
        {"envelope_id": "00000000-0000-4000-8000-000000000000"},
        {"departement": "75"},
        {"evaluations": []},
        {"created_by": "x"},
        {"id": "00000000-0000-4000-8000-000000000000"},
        {"candidate_id": "00000000-0000-4000-8000-000000000000"},
    ],
)
async def test_mass_assignment_on_create_is_422_and_creates_nothing(
    client: AsyncClient,
    actors: Actors,
    headers,
    candidates: dict[str, Candidate],
    session: AsyncSession,
    field: dict,
) -> None:
    response = await client.post(URL, json={**DRAFT, **field}, headers=headers(actors.cand_a))
    assert response.status_code == 422
    assert problem(response)["errors"][0]["code"] == "extra_forbidden"
    assert (await session.execute(select(Project))).first() is None


# -- reading: scope (R-ACL-1) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("cand_a", 200),
        ("cand_b", 404),
        ("cand_paris", 404),
        ("pref13", 200),
        ("pref75", 404),
        ("dinum", 200),
        ("anct", 200),
    ],
)
async def test_r_acl_1_read_project_by_role_and_scope(
    client: AsyncClient, actors: Actors, headers, project_13: Project, who: str, status: int
) -> None:
    for suffix in ("", "/eligibility", "/history"):
        response = await client.get(
            f"{URL}/{project_13.id}{suffix}", headers=headers(getattr(actors, who))
        )
        assert response.status_code == status, (suffix, response.text)
        if status == 404:
            assert problem(response)["code"] == "project-not-found"


@pytest.mark.parametrize(
    ("who", "query", "titles"),
    [
        ("cand_a", "", {"Prise de rendez-vous en ligne"}),
        ("cand_b", "", set()),
        ("pref13", "", {"Prise de rendez-vous en ligne"}),
        ("pref13", "?departement=75", set()),
        ("pref75", "", {"Paris numérique"}),
        ("dinum", "", {"Prise de rendez-vous en ligne", "Paris numérique"}),
        ("anct", "?departement=75", {"Paris numérique"}),
    ],
)
async def test_r_acl_1_project_lists_are_scoped_in_the_query(
    client: AsyncClient,
    actors: Actors,
    headers,
    project_13: Project,
    project_75: Project,
    who: str,
    query: str,
    titles: set[str],
) -> None:
    response = await client.get(URL + query, headers=headers(getattr(actors, who)))
    assert response.status_code == 200
    assert {p["title"] for p in response.json()["items"]} == titles


async def test_list_filters(
    client: AsyncClient,
    actors: Actors,
    headers,
    session: AsyncSession,
    candidates: dict[str, Candidate],
) -> None:
    from datetime import UTC, datetime

    a = await make_project(
        session,
        candidate=candidates["marseille"],
        strand="3a",
        status="submitted",
        submitted_at=datetime(2021, 5, 1, tzinfo=UTC),
    )
    b = await make_project(session, candidate=candidates["aix"], strand="3b")
    h = headers(actors.dinum)

    async def ids(query: dict[str, str]) -> set[str]:
        response = await client.get(URL, params=query, headers=h)
        assert response.status_code == 200, response.text
        return {p["id"] for p in response.json()["items"]}

    assert await ids({"strand": "3a"}) == {str(a.id)}
    assert await ids({"status": "draft"}) == {str(b.id)}
    assert await ids({"candidate_id": str(candidates["aix"].id)}) == {str(b.id)}
    assert await ids(
        {"submitted_from": "2021-04-30T00:00:00Z", "submitted_to": "2021-05-02T00:00:00Z"}
    ) == {str(a.id)}
    assert await ids({"submitted_from": "2021-05-02T00:00:00Z"}) == set()
    assert await ids({"updated_since": "2999-01-01T00:00:00Z"}) == set()
    assert await ids({"departement": "13"}) == {str(a.id), str(b.id)}
    assert (await client.get(URL, params={"status": "nope"}, headers=h)).status_code == 422
    assert (await client.get(URL, params={"limit": 201}, headers=h)).status_code == 422


async def test_list_pages_with_a_cursor(
    client: AsyncClient,
    actors: Actors,
    headers,
    session: AsyncSession,
    candidates: dict[str, Candidate],
) -> None:
    made = {
        str((await make_project(session, candidate=candidates["aix"], title=f"P{i}")).id)
        for i in range(5)
    }
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = (await client.get(URL, params=params, headers=headers(actors.pref13))).json()
        assert len(page["items"]) <= 2
        seen += [p["id"] for p in page["items"]]
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert len(seen) == 5 and set(seen) == made


async def test_list_runs_a_constant_number_of_statements(
    client: AsyncClient,
    actors: Actors,
    headers,
    session: AsyncSession,
    engine: AsyncEngine,
    candidates: dict[str, Candidate],
) -> None:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    async def statements_for(limit: int) -> int:
        statements.clear()
        event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            response = await client.get(URL, params={"limit": limit}, headers=headers(actors.dinum))
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", count)
        assert response.status_code == 200
        assert len(response.json()["items"]) == limit
        return len([s for s in statements if s.lstrip().upper().startswith("SELECT")])

    lines = [("development", 100_000)] * 12
    for i in range(30):
        await make_project(session, candidate=candidates["aix"], lines=lines, title=f"P{i}")
    small, large = await statements_for(2), await statements_for(30)
    assert small == large == 1


# -- editing drafts (R-FLOW-3) ---------------------------------------------------------------


async def test_r_flow_3_candidate_edits_its_draft_with_if_match(
    client: AsyncClient, actors: Actors, headers, project_13: Project
) -> None:
    url = f"{URL}/{project_13.id}"
    etag = (await client.get(url, headers=headers(actors.cand_a))).headers["ETag"]
    response = await client.patch(
        url,
        json={
            "requested_cents": 1_500_000,
            "expense_lines": [{"category": "study", "label": "Étude", "amount_cents": 3_000_000}],
        },
        headers={**headers(actors.cand_a), "If-Match": etag},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["requested_cents"] == 1_500_000
    assert body["total_cost_cents"] == 3_000_000
    assert [line["label"] for line in body["expense_lines"]] == ["Étude"]
    assert response.headers["ETag"] == '"v2"'
    stale = await client.patch(
        url, json={"title": "Autre"}, headers={**headers(actors.cand_a), "If-Match": etag}
    )
    assert stale.status_code == 412
    assert problem(stale)["code"] == "R-FLOW-3"
    missing = await client.patch(url, json={"title": "Autre"}, headers=headers(actors.cand_a))
    assert missing.status_code == 428
    assert (await client.get(url, headers=headers(actors.cand_a))).json()["title"] == (
        "Prise de rendez-vous en ligne"
    )


@pytest.mark.parametrize(
    "field",
    [
        {"status": "accepted"},
        {"granted_cents": 5},
        {"departement": "75"},
        {"created_by": "x"},
        {"submitted_at": "2021-01-01T00:00:00Z"},
        {"total_cost_cents": 1},
        {"version": 7},
    ],
)
async def test_mass_assignment_on_patch_is_422_and_changes_nothing(
    client: AsyncClient, actors: Actors, headers, project_13: Project, field: dict
) -> None:
    url = f"{URL}/{project_13.id}"
    response = await client.patch(
        url, json=field, headers={**headers(actors.cand_a), "If-Match": '"v1"'}
    )
    assert response.status_code == 422
    after = (await client.get(url, headers=headers(actors.cand_a))).json()
    assert (after["status"], after["departement"], after["version"]) == ("draft", "13", 1)


@pytest.mark.parametrize(
    ("who", "status"),
    [("cand_b", 404), ("pref13", 403), ("pref75", 403), ("dinum", 403), ("anct", 403)],
)
async def test_only_the_owner_edits(
    client: AsyncClient, actors: Actors, headers, project_13: Project, who: str, status: int
) -> None:
    response = await client.patch(
        f"{URL}/{project_13.id}",
        json={"title": "X"},
        headers={**headers(getattr(actors, who)), "If-Match": '"v1"'},
    )
    assert response.status_code == status


async def test_r_flow_3_a_submitted_dossier_cannot_be_edited(
    client: AsyncClient,
    actors: Actors,
    headers,
    session: AsyncSession,
    candidates: dict[str, Candidate],
) -> None:
    project = await make_project(session, candidate=candidates["marseille"], status="submitted")
    response = await client.patch(
        f"{URL}/{project.id}",
        json={"title": "X"},
        headers={**headers(actors.cand_a), "If-Match": '"v1"'},
    )
    assert response.status_code == 409
    assert problem(response)["code"] == "R-FLOW-3"


# -- the eligibility report ------------------------------------------------------------------


async def test_eligibility_report_lists_exclusions_line_by_line(
    client: AsyncClient, actors: Actors, headers, candidates: dict[str, Candidate]
) -> None:
    created = await client.post(URL, json=DRAFT, headers=headers(actors.cand_a))
    # R-DOC-1: its documents filed, so that only the rules on its figures are judged here
    await file_required_documents(client, headers(actors.cand_a), created.json()["id"])
    report = await client.get(
        f"{URL}/{created.json()['id']}/eligibility", headers=headers(actors.cand_a)
    )
    assert report.status_code == 200
    body = report.json()
    # E = 4 000 000; extra-EU licences allowed: floor(0.1 × 4 000 000 / 0.9) = 444 444
    assert body["total_cost_cents"] == 5_100_000
    assert body["eligible_cost_cents"] == 4_444_444
    assert [(x["rule"], x["excluded_cents"]) for x in body["excluded"]] == [
        ("R-EXCL-1", 600_000),
        ("R-EXCL-2", 55_556),
    ]
    assert body["excluded"][1]["eligible_cents"] == 444_444
    assert all(x["reason"] for x in body["excluded"])
    assert body["max_grant_cents"] == body["funding_cap_cents"] == 4_444_444
    assert body["forfait_cents"] is None
    assert body["eligible"] is True and body["failures"] == []


async def test_eligibility_report_of_a_3a_commune_uses_the_forfait(
    client: AsyncClient, actors: Actors, headers, candidates: dict[str, Candidate]
) -> None:
    created = await client.post(
        URL,
        json={**DRAFT, "strand": "3a", "requested_cents": 900_000},
        headers=headers(actors.cand_a),
    )
    body = (
        await client.get(
            f"{URL}/{created.json()['id']}/eligibility", headers=headers(actors.cand_a)
        )
    ).json()
    # Marseille has more than 5 000 inhabitants: 10 000 € (R-CAP-3)
    assert body["forfait_cents"] == 1_000_000
    assert body["max_grant_cents"] == 1_000_000


async def test_eligibility_report_of_an_incomplete_draft_lists_every_failed_rule(
    client: AsyncClient, actors: Actors, headers, candidates: dict[str, Candidate]
) -> None:
    draft = {
        "strand": "3b",
        "title": "Formation",
        "description": "Former les agents.",
        "start_on": "2021-03-01",
        "end_on": "2023-06-30",
        "expense_lines": [{"category": "equipment_agents", "label": "PC", "amount_cents": 1_000}],
        "other_funding": [{"funder": "Département", "amount_cents": 1_000}],
        "requested_cents": 500,
    }
    created = await client.post(URL, json=draft, headers=headers(actors.cand_a))
    assert created.status_code == 201
    body = (
        await client.get(
            f"{URL}/{created.json()['id']}/eligibility", headers=headers(actors.cand_a)
        )
    ).json()
    assert body["eligible"] is False
    assert sorted({f["code"] for f in body["failures"]}) == [
        "R-CAP-1",
        "R-CAP-2",
        "R-DOC-1",  # its submission's documents, not filed
        "R-ELIG-3",
        "R-ELIG-4",
        "R-ELIG-5",
        "R-ELIG-6",
        "R-EXCL-1",
        "R-EXCL-3",
    ]


async def test_a_list_page_is_the_bytes_of_its_response_model(
    client: AsyncClient,
    actors: Actors,
    headers,
    session: AsyncSession,
    candidates: dict[str, Candidate],
) -> None:
    """Issue 28: a list page is written by its model's shape (app/core/lean_json.py), not
    validated per response: its bytes are those of `ProjectList` validated and written, for
    every reader (R-EVAL-4: a candidate's items have no score), dates, scores and nulls
    included."""
    from datetime import UTC, datetime

    from app.projects.schemas import ProjectList

    await make_project(
        session,
        candidate=candidates["marseille"],
        status="submitted",
        submitted_at=datetime(2021, 5, 1, 8, 30, 15, 123456, tzinfo=UTC),
        evaluation_count=2,
        mean_score_centi=345,
        title="Guichet « numérique » n°1",
    )
    await make_project(session, candidate=candidates["marseille"], nature=None, end_on=None)
    for who in (actors.dinum, actors.pref13, actors.cand_a):
        response = await client.get(URL, params={"limit": 1}, headers=headers(who))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        body = response.content
        assert body == ProjectList.model_validate_json(body).model_dump_json().encode()
        cursor = response.json()["next_cursor"]
        assert cursor
        last = await client.get(URL, params={"cursor": cursor}, headers=headers(who))
        assert (
            last.content == ProjectList.model_validate_json(last.content).model_dump_json().encode()
        )
