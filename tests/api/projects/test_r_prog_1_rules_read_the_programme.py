"""Issue 26, R-PROG-1: the rules read the dossier's programme, not constants. On the second
seeded call (Numérique des territoires 2026: communes and EPCI only, `socle` capped at the
programme's 80 %, `services` at its own 70 %, no forfaits, `internal_staff` excluded and
`equipment` eligible, no advisory evaluator), a département is refused (R-ELIG-1), the caps
and exclusions are that programme's (R-CAP-1, R-CAP-3, R-EXCL-1), ANCT evaluates nothing
(R-EVAL-3), and a strand or a category of another programme is refused (R-PROG-1). FITN7's own
behaviour is the rest of the suite's."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, Role
from app.programme.models import Programme
from app.programme.seed_nt2026 import NT2026_CODE
from tests.conftest import MARSEILLE_SIREN, Actors
from tests.factories import make_candidate, make_project

URL = "/api/v1/projects"
TODAY = "2026-03-02"  # NT2026's window is open (2026-02-01 .. 2027-03-31)


def body(strand: str = "services", **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "programme": NT2026_CODE,
        "strand": strand,
        "title": "Prise de rendez-vous en ligne",
        "description": "Un service en ligne de prise de rendez-vous.",
        "nature": "modernisation",
        "start_on": "2026-04-01",
        "end_on": "2027-06-30",
        "sponsor": {"name": "Mme la Maire", "role": "Maire"},
        "expense_lines": [
            {"category": "development", "label": "Développement", "amount_cents": 1_000_000}
        ],
        "requested_cents": 500_000,
    }
    data.update(overrides)
    return data


@pytest.fixture(autouse=True)
def _in_nt2026_window(clock_at: Any) -> None:
    clock_at(TODAY)


async def _create(client: AsyncClient, headers: Any, who: Principal, data: dict[str, Any]) -> Any:
    return await client.post(URL, json=data, headers=headers(who))


async def _eligibility(client: AsyncClient, headers: Any, who: Principal, project_id: str) -> Any:
    response = await client.get(f"{URL}/{project_id}/eligibility", headers=headers(who))
    assert response.status_code == 200, response.text
    return response.json()


async def test_r_elig_1_a_departement_cannot_file_on_a_programme_for_communes_and_epci(
    client: AsyncClient, session: AsyncSession, headers: Any
) -> None:
    """R-ELIG-1 per programme: NT2026 funds communes and EPCI only; a département (eligible to
    FITN7) is refused there (422 naming R-ELIG-1), and files on FITN7 as before."""
    await make_candidate(session, siren="221300015", kind="departement", name="Département 13")
    agent = Principal("agent-cd13", Role.CANDIDATE, siren="221300015")
    response = await _create(client, headers, agent, body())
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "R-ELIG-1"
    assert [e["code"] for e in problem["errors"]] == ["R-ELIG-1"]
    assert NT2026_CODE in problem["errors"][0]["message"]
    fitn7 = body("3c", programme=None, start_on="2026-04-01", end_on="2027-06-30")
    assert (await _create(client, headers, agent, fitn7)).status_code == 201


async def test_r_prog_1_strands_and_categories_are_the_programmes(
    client: AsyncClient, session: AsyncSession, headers: Any, actors: Actors
) -> None:
    """R-PROG-1: a dossier's strand and its lines' categories are its programme's: FITN7's
    `3c` and `equipment_agents` are refused on NT2026 (422 listing each, with the codes
    allowed), and NT2026's `services` and `equipment` on FITN7."""
    await make_candidate(session, siren=MARSEILLE_SIREN)
    lines = [
        {"category": "equipment_agents", "label": "Postes", "amount_cents": 100_000},
        {"category": "development", "label": "Développement", "amount_cents": 900_000},
    ]
    response = await _create(client, headers, actors.cand_a, body("3c", expense_lines=lines))
    assert response.status_code == 422, response.text
    errors = {e["field"]: e for e in response.json()["errors"]}
    assert set(errors) == {"/strand", "/expense_lines/0/category"}
    assert all(e["code"] == "R-PROG-1" for e in errors.values())
    assert "socle, services" in errors["/strand"]["message"]
    assert "internal_staff" in errors["/expense_lines/0/category"]["message"]
    on_fitn7 = body(
        "services",
        programme=None,
        expense_lines=[{"category": "equipment", "label": "Postes", "amount_cents": 100_000}],
    )
    response = await _create(client, headers, actors.cand_a, on_fitn7)
    assert response.status_code == 422, response.text
    assert {e["field"] for e in response.json()["errors"]} == {
        "/strand",
        "/expense_lines/0/category",
    }
    unknown = await _create(client, headers, actors.cand_a, body(programme="NOPE"))
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["errors"][0]["field"] == "/programme"


async def test_r_prog_1_an_edit_is_held_to_the_programme_too(
    client: AsyncClient, session: AsyncSession, headers: Any, actors: Actors
) -> None:
    """R-PROG-1 on PATCH: a draft of NT2026 cannot move to FITN7's strand or categories."""
    await make_candidate(session, siren=MARSEILLE_SIREN)
    created = await _create(client, headers, actors.cand_a, body())
    assert created.status_code == 201, created.text
    project = created.json()
    response = await client.patch(
        f"{URL}/{project['id']}",
        json={"strand": "3b"},
        headers={**headers(actors.cand_a), "If-Match": created.headers["ETag"]},
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["code"] == "R-PROG-1"
    response = await client.patch(
        f"{URL}/{project['id']}",
        json={"strand": "socle"},
        headers={**headers(actors.cand_a), "If-Match": created.headers["ETag"]},
    )
    assert response.status_code == 200, response.text


async def test_r_excl_1_and_r_cap_1_are_the_programmes_and_the_strands(
    client: AsyncClient, session: AsyncSession, headers: Any, actors: Actors
) -> None:
    """R-EXCL-1 by data: on NT2026 `internal_staff` is excluded (the report names the
    category), `equipment` is eligible (FITN7 excludes agents' equipment, not NT2026's).
    R-CAP-1 per strand: `services` caps at its own 70 %, `socle` at the programme's 80 %.
    R-CAP-3: no strand of NT2026 has forfaits, whatever the candidate."""
    await make_candidate(session, siren=MARSEILLE_SIREN)
    lines = [
        {"category": "equipment", "label": "Postes partagés", "amount_cents": 600_000},
        {"category": "internal_staff", "label": "Chef de projet", "amount_cents": 400_000},
        {"category": "development", "label": "Développement", "amount_cents": 400_000},
    ]
    caps = {}
    for strand in ("services", "socle"):
        created = await _create(client, headers, actors.cand_a, body(strand, expense_lines=lines))
        assert created.status_code == 201, created.text
        report = await _eligibility(client, headers, actors.cand_a, created.json()["id"])
        assert report["eligible_cost_cents"] == 1_000_000  # equipment + development
        assert [(e["position"], e["rule"]) for e in report["excluded"]] == [(1, "R-EXCL-1")]
        assert "Dépenses de personnel interne" in report["excluded"][0]["reason"]
        assert report["forfait_cents"] is None and report["forfait_tier"] is None  # R-CAP-3
        caps[strand] = (report["funding_cap_cents"], report["max_grant_cents"])
    assert caps == {"services": (700_000, 700_000), "socle": (800_000, 800_000)}


async def test_r_cap_1_a_request_above_the_strands_cap_names_r_cap_1(
    client: AsyncClient, session: AsyncSession, headers: Any, actors: Actors
) -> None:
    """R-CAP-1: 750 000 € asked on 1 000 000 € eligible: above `services`' 70 %, within
    `socle`'s 80 %."""
    await make_candidate(session, siren=MARSEILLE_SIREN)
    codes = {}
    for strand in ("services", "socle"):
        data = body(strand, requested_cents=750_000)
        created = await _create(client, headers, actors.cand_a, data)
        assert created.status_code == 201, created.text
        report = await _eligibility(client, headers, actors.cand_a, created.json()["id"])
        codes[strand] = sorted({f["code"] for f in report["failures"]} & {"R-CAP-1", "R-CAP-3"})
    assert codes == {"services": ["R-CAP-1"], "socle": []}


async def _nt2026_in_review(session: AsyncSession, strand: str) -> str:
    candidate = await make_candidate(session, siren=MARSEILLE_SIREN)
    programme = (
        await session.execute(select(Programme).where(Programme.code == NT2026_CODE))
    ).scalar_one()
    project = await make_project(
        session, candidate=candidate, programme_id=programme.id, strand=strand, status="in_review"
    )
    await session.commit()
    return str(project.id)


async def test_r_eval_3_no_advisory_evaluation_on_a_programme_without_advisors(
    client: AsyncClient, session: AsyncSession, headers: Any, actors: Actors
) -> None:
    """R-EVAL-3 by data: no strand of NT2026 names ANCT as advisor, so ANCT is neither offered
    `evaluate` nor let evaluate (403 naming R-EVAL-3); the prefect is."""
    project_id = await _nt2026_in_review(session, "services")
    read = await client.get(f"{URL}/{project_id}", headers=headers(actors.anct))
    assert read.status_code == 200, read.text
    assert "evaluate" not in read.json()["allowed_actions"]
    listed = await client.get(
        URL, params={"programme": "NUMERIQUE-TERRITOIRES-2026"}, headers=headers(actors.anct)
    )  # R-PROG-2: the list is one programme's
    assert listed.status_code == 200, listed.text
    (item,) = [i for i in listed.json()["items"] if i["id"] == project_id]
    assert "evaluate" not in item["allowed_actions"]
    prefect = await client.get(f"{URL}/{project_id}", headers=headers(actors.pref13))
    assert "evaluate" in prefect.json()["allowed_actions"]
    response = await client.post(
        f"{URL}/{project_id}/evaluations",
        json={"conflict_of_interest": True},
        headers=headers(actors.anct),
    )
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "R-EVAL-3"
