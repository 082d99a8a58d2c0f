"""R-ELIG-8 through the API: no start before the request, on the service's clock (Europe/Paris),
and the business timestamps of a dossier taken from that clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from app.core import clock
from app.core.clock import Clock
from app.projects.models import Project
from tests.conftest import MARSEILLE_SIREN, Actors
from tests.factories import make_candidate, make_project
from tests.support import TEST_CLOCK_START, file_required_documents

URL = "/api/v1/projects"
DAY = timedelta(days=1)
MINUTES_5 = timedelta(minutes=5)


@dataclass
class Desk:
    """Marseille's dossiers, driven through the API on a clock the test can move."""

    client: AsyncClient
    headers: Callable[..., dict[str, str]]
    actors: Actors
    session: AsyncSession
    candidate: Candidate
    clock_at: Callable[[datetime | str], Clock]

    async def draft(self, **overrides: Any) -> Project:
        return await make_project(self.session, candidate=self.candidate, **overrides)

    async def file_documents(self, project: Project) -> None:
        """R-DOC-1: what its submission asks for, filed by Marseille."""
        await file_required_documents(self.client, self.headers(self.actors.cand_a), project.id)

    async def submit(self, project: Project) -> Response:
        """Its documents filed (R-DOC-1 has its own tests), then submitted."""
        await self.file_documents(project)
        return await self.client.post(
            f"{URL}/{project.id}/submit",
            headers={**self.headers(self.actors.cand_a), "If-Match": f'"v{project.version}"'},
        )

    async def get(self, project: Project, suffix: str = "") -> Any:
        response = await self.client.get(
            f"{URL}/{project.id}{suffix}", headers=self.headers(self.actors.cand_a)
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def desk(client, headers, actors, session, clock_at) -> Desk:  # type: ignore[no-untyped-def]
    candidate = await make_candidate(session, siren=MARSEILLE_SIREN)
    return Desk(client, headers, actors, session, candidate, clock_at)


async def test_r_elig_8_a_start_before_the_submission_day_is_refused_with_the_other_rules(
    desk: Desk,
) -> None:
    """R-ELIG-8, R-FLOW-2: submitted on 15/02/2021 for a start on 01/02/2021: 422 naming
    R-ELIG-8 on /start_on, listed with every other failed rule; the dossier stays a draft."""
    project = await desk.draft(start_on=date(2021, 2, 1), sponsor_name=None)
    response = await desk.submit(project)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/project-ineligible")
    assert sorted(e["code"] for e in body["errors"]) == ["R-ELIG-3", "R-ELIG-8"]
    elig_8 = next(e for e in body["errors"] if e["code"] == "R-ELIG-8")
    assert elig_8["field"] == "/start_on"
    assert "01/02/2021" in elig_8["message"] and "15/02/2021" in elig_8["message"]
    assert (await desk.get(project))["status"] == "draft"


async def test_r_elig_8_the_report_of_a_draft_measures_the_start_against_today(
    desk: Desk,
) -> None:
    """R-ELIG-8: a draft starting 01/03/2021 is eligible until that day, not the day after."""
    project = await desk.draft(start_on=date(2021, 3, 1))
    await desk.file_documents(project)
    assert (await desk.get(project, "/eligibility"))["failures"] == []
    desk.clock_at("2021-03-01")
    assert (await desk.get(project, "/eligibility"))["eligible"] is True
    desk.clock_at("2021-03-02")
    late = await desk.get(project, "/eligibility")
    assert late["eligible"] is False
    assert [(f["code"], f["field"]) for f in late["failures"]] == [("R-ELIG-8", "/start_on")]


@pytest.mark.parametrize(
    ("instant", "status"),
    [
        # 23:30 UTC on 28/02 is already 01/03 in Paris: starting that day is admitted.
        ("2021-02-28T23:30:00+00:00", 200),
        # 23:30 UTC on 01/03 is 02/03 in Paris: the start is now in the past.
        ("2021-03-01T23:30:00+00:00", 422),
    ],
)
async def test_r_elig_8_the_submission_day_is_the_day_in_paris(
    desk: Desk, instant: str, status: int
) -> None:
    project = await desk.draft(start_on=date(2021, 3, 1))
    desk.clock_at(instant)
    response = await desk.submit(project)
    assert response.status_code == status, response.text
    if status == 422:
        assert [e["code"] for e in response.json()["errors"]] == ["R-ELIG-8"]


async def test_r_elig_8_created_submitted_and_history_stamps_read_the_service_clock(
    desk: Desk,
) -> None:
    """Every business timestamp comes from the injectable clock: the suite's (2021-02-15), then
    the one a test moves to through the `get_clock` dependency."""
    project = await desk.draft()
    # the test's code reads it: after the suite's start, not the machine's day (however long the
    # suite has run so far: the suite's clock ticks from its start)
    assert TEST_CLOCK_START <= project.created_at <= clock.now() < TEST_CLOCK_START + DAY
    desk.clock_at("2021-02-20T11:00:00+01:00")
    response = await desk.submit(project)
    assert response.status_code == 200, response.text
    submitted_at = datetime.fromisoformat(response.json()["submitted_at"])
    moved = datetime(2021, 2, 20, 10, 0, tzinfo=UTC)
    assert moved <= submitted_at < moved + MINUTES_5
    history = await desk.get(project, "/history")
    stamps = [datetime.fromisoformat(item["at"]) for item in history["items"]]
    assert stamps and all(moved <= at < moved + MINUTES_5 for at in stamps)
    assert moved <= clock.now() < moved + MINUTES_5  # the test's context follows the move
