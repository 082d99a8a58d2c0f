"""Issue 8 item 6, dates in bodies: every date of the contract lies between 2000-01-01 and
2100-12-31 (422 at save, naming the field), so no rule's date arithmetic can overflow.
Projects and the programme here; conventions, payments and final reports in
tests/api/budgets/test_date_bounds.py."""

from __future__ import annotations

from datetime import date

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from tests.api.projects.test_projects import DRAFT
from tests.conftest import MARSEILLE_SIREN, Actors
from tests.factories import make_candidate, make_project
from tests.support import file_required_documents

URL = "/api/v1/projects"


@pytest.fixture
async def marseille(session: AsyncSession) -> Candidate:
    return await make_candidate(session, siren=MARSEILLE_SIREN)


def refused_fields(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {e["field"]: e["code"] for e in response.json()["errors"]}


async def test_a_project_from_9999_to_year_1_is_refused_at_save(
    client: AsyncClient, headers, actors: Actors, marseille: Candidate
) -> None:
    """The probe's example: it was saved, then its eligibility report answered 500."""
    body = {**DRAFT, "start_on": "9999-12-31", "end_on": "0001-01-01"}
    response = await client.post(URL, json=body, headers=headers(actors.cand_a))
    assert refused_fields(response) == {
        "/start_on": "date_out_of_range",
        "/end_on": "date_out_of_range",
    }
    assert "2000" in response.json()["errors"][0]["message"]
    listed = await client.get(URL, headers=headers(actors.cand_a))
    assert listed.json()["items"] == []


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("1999-12-31", "date_out_of_range"),
        ("2101-01-01", "date_out_of_range"),
        ("0201-03-01", "date_out_of_range"),
        ("2021-03-01T00:00:00", "date_format"),
        ("20210301", "date_format"),
    ],
)
async def test_a_draft_edit_outside_the_range_names_the_field(
    client: AsyncClient,
    headers,
    actors: Actors,
    session: AsyncSession,
    marseille: Candidate,
    value: str,
    code: str,
) -> None:
    project = await make_project(session, candidate=marseille)
    response = await client.patch(
        f"{URL}/{project.id}",
        json={"end_on": value},
        headers={**headers(actors.cand_a), "If-Match": '"v1"'},
    )
    assert refused_fields(response) == {"/end_on": code}


async def test_the_ends_of_the_range_are_saved_and_judged(
    client: AsyncClient, headers, actors: Actors, marseille: Candidate
) -> None:
    body = {**DRAFT, "start_on": "2000-01-01", "end_on": "2100-12-31"}
    created = await client.post(URL, json=body, headers=headers(actors.cand_a))
    assert created.status_code == 201, created.text
    report = await client.get(
        f"{URL}/{created.json()['id']}/eligibility", headers=headers(actors.cand_a)
    )
    assert report.status_code == 200
    codes = {f["code"] for f in report.json()["failures"]}
    assert {"R-ELIG-5", "R-ELIG-6", "R-ELIG-8"} <= codes


async def test_a_dossier_stored_before_the_bound_still_gets_its_report(
    client: AsyncClient, headers, actors: Actors, session: AsyncSession, marseille: Candidate
) -> None:
    """Dates saved before the bound existed: the report judges them, never a 500."""
    project = await make_project(
        session, candidate=marseille, start_on=date(9999, 12, 31), end_on=date(1, 1, 1)
    )
    await file_required_documents(client, headers(actors.cand_a), project.id)  # R-DOC-1 aside
    response = await client.get(f"{URL}/{project.id}/eligibility", headers=headers(actors.cand_a))
    assert response.status_code == 200, response.text
    assert [f["code"] for f in response.json()["failures"]] == ["R-ELIG-6"]  # end before start


@pytest.mark.parametrize("field", ["window_opens_on", "window_closes_on", "results_deadline"])
async def test_programme_dates_outside_the_range_are_refused(
    client: AsyncClient, headers, actors: Actors, field: str
) -> None:
    programme = await client.get("/api/v1/programme")
    response = await client.patch(
        "/api/v1/programme",
        json={field: "9999-12-31"},
        headers={**headers(actors.dinum), "If-Match": programme.headers["ETag"]},
    )
    assert refused_fields(response) == {f"/{field}": "date_out_of_range"}
    assert (await client.get("/api/v1/programme")).json() == programme.json()
