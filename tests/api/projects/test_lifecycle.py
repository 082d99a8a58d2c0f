"""The lifecycle of a dossier through the API (R-FLOW-1, R-FLOW-2, R-FLOW-3, R-ELIG-7)."""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from app.projects.models import FundingLine, Project
from app.projects.schemas import ProjectRead
from tests.conftest import AIX_SIREN, MARSEILLE_SIREN, Actors
from tests.factories import make_candidate, make_project
from tests.support import file_required_documents

URL = "/api/v1/projects"


@pytest.fixture
async def marseille(session: AsyncSession) -> Candidate:
    await make_candidate(session, siren=AIX_SIREN)
    return await make_candidate(session, siren=MARSEILLE_SIREN)


@pytest.fixture
async def draft(session: AsyncSession, marseille: Candidate) -> Project:
    return await make_project(session, candidate=marseille)


class Dossier:
    """Drives one dossier through the API, carrying its ETag as a front-end would."""

    def __init__(self, client: AsyncClient, headers, actors: Actors, project_id: object) -> None:
        self.client, self.headers, self.actors = client, headers, actors
        self.project_id = project_id
        self.url = f"{URL}/{project_id}"
        self.etag = '"v1"'

    async def file_documents(self, who: str = "cand_a", step: str = "submission") -> None:
        """R-DOC-1: what `step` asks of the dossier, filed (an upload leaves its ETag as is)."""
        await file_required_documents(
            self.client, self.headers(getattr(self.actors, who)), self.project_id, step=step
        )

    async def act(
        self, action: str, who: str, json: dict | None = None, *, etag: str | None = None
    ):  # type: ignore[no-untyped-def]
        response = await self.client.post(
            f"{self.url}/{action}",
            json=json,
            headers={**self.headers(getattr(self.actors, who)), "If-Match": etag or self.etag},
        )
        if response.status_code == 200:
            self.etag = response.headers["ETag"]
        return response

    async def status(self) -> str:
        response = await self.client.get(self.url, headers=self.headers(self.actors.dinum))
        return str(response.json()["status"])


@pytest.fixture
async def dossier(client: AsyncClient, headers, actors: Actors, draft: Project) -> Dossier:
    """The draft, with the documents its submission asks for (R-DOC-1)."""
    dossier = Dossier(client, headers, actors, draft.id)
    await dossier.file_documents()
    return dossier


async def test_file_submit_return_resubmit_review_and_close(
    client: AsyncClient, actors: Actors, headers, dossier: Dossier
) -> None:
    submitted = await dossier.act("submit", "cand_a")
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "submitted"
    assert submitted.json()["submitted_at"] is not None

    assert (await dossier.act("start-review", "pref13")).json()["status"] == "in_review"
    returned = await dossier.act("return", "pref13", {"message": "Précisez le budget."})
    assert returned.json()["status"] == "draft"
    assert returned.json()["status_message"] == "Précisez le budget."

    edited = await client.patch(
        dossier.url,
        json={"requested_cents": 900_000},
        headers={**headers(actors.cand_a), "If-Match": dossier.etag},
    )
    assert edited.status_code == 200
    dossier.etag = edited.headers["ETag"]
    assert (await dossier.act("submit", "cand_a")).json()["status"] == "submitted"
    assert (await dossier.act("start-review", "pref13")).json()["status"] == "in_review"
    closed = await dossier.act("close", "pref13", {"reason": "Projet abandonné."})
    assert closed.json()["status"] == "closed"
    assert closed.json()["status_message"] == "Projet abandonné."

    history = (await client.get(f"{dossier.url}/history", headers=headers(actors.pref13))).json()
    steps = [
        (h["action"], h["from_status"], h["to_status"], h["actor_role"]) for h in history["items"]
    ]
    assert steps == [
        ("submit", "draft", "submitted", "candidate"),
        ("start-review", "submitted", "in_review", "prefect"),
        ("return", "in_review", "draft", "prefect"),
        ("submit", "draft", "submitted", "candidate"),
        ("start-review", "submitted", "in_review", "prefect"),
        ("close", "in_review", "closed", "prefect"),
    ]
    assert history["items"][2]["message"] == "Précisez le budget."
    assert history["items"][1]["actor"] == "prefet-13"
    assert all(h["at"] for h in history["items"])


async def test_history_hides_state_agents_from_candidates_and_stamps_creation(
    client: AsyncClient, actors: Actors, headers, marseille: Candidate
) -> None:
    from tests.api.projects.test_projects import DRAFT

    created = await client.post(URL, json=DRAFT, headers=headers(actors.cand_a))
    dossier = Dossier(client, headers, actors, created.json()["id"])
    await dossier.file_documents()
    await dossier.act("submit", "cand_a")
    await dossier.act("start-review", "pref13")
    items = (await client.get(f"{dossier.url}/history", headers=headers(actors.cand_a))).json()[
        "items"
    ]
    assert [i["action"] for i in items] == ["create", "submit", "start-review"]
    assert items[0]["actor"] == "agent-marseille"
    assert items[2]["actor"] is None and items[2]["actor_role"] == "prefect"


@pytest.mark.parametrize("stage", ["draft", "submitted", "in_review"])
async def test_candidate_withdraws_at_each_open_stage(dossier: Dossier, stage: str) -> None:
    if stage != "draft":
        await dossier.act("submit", "cand_a")
    if stage == "in_review":
        await dossier.act("start-review", "pref13")
    response = await dossier.act("withdraw", "cand_a")
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"


async def test_r_flow_2_an_ineligible_dossier_cannot_be_submitted_and_every_rule_is_listed(
    client: AsyncClient, actors: Actors, headers, session: AsyncSession, marseille: Candidate
) -> None:
    from datetime import date

    project = await make_project(
        session,
        candidate=marseille,
        sponsor_name=None,
        nature=None,
        end_on=date(2023, 6, 1),
        lines=[("equipment_agents", 500_000)],
        requested_cents=600_000,
    )
    dossier = Dossier(client, headers, actors, project.id)
    await dossier.file_documents()  # every rule but R-DOC-1, which its own tests prove
    response = await dossier.act("submit", "cand_a")
    assert response.status_code == 422
    body = response.json()
    assert body["type"].endswith("/project-ineligible")
    assert sorted({e["code"] for e in body["errors"]}) == [
        "R-CAP-1",
        "R-CAP-2",
        "R-ELIG-3",
        "R-ELIG-4",
        "R-ELIG-5",
        "R-ELIG-6",
        "R-EXCL-1",
        "R-EXCL-3",
    ]
    assert await dossier.status() == "draft"


async def test_r_elig_7_no_submission_once_the_window_is_closed(
    client: AsyncClient, actors: Actors, headers, dossier: Dossier, clock_at
) -> None:
    etag = (await client.get("/api/v1/programme")).headers["ETag"]
    closed = await client.patch(
        "/api/v1/programme",
        json={"window_closes_on": "2021-02-20"},
        headers={**headers(actors.dinum), "If-Match": etag},
    )
    assert closed.status_code == 200
    clock_at("2021-02-21")  # the day after it closed; the dossier's start is still ahead
    response = await dossier.act("submit", "cand_a")
    assert response.status_code == 422
    assert [e["code"] for e in response.json()["errors"]] == ["R-ELIG-7"]


ILLEGAL = [
    # (actions to reach the state, illegal action, who, current, requested)
    ([], "start-review", "pref13", "draft", "in_review"),
    ([], "return", "pref13", "draft", "draft"),
    ([], "close", "pref13", "draft", "closed"),
    (["submit"], "submit", "cand_a", "submitted", "submitted"),
    (["submit"], "close", "pref13", "submitted", "closed"),
    (["submit"], "return", "pref13", "submitted", "draft"),
    (["submit", "start-review"], "start-review", "pref13", "in_review", "in_review"),
    (["submit", "start-review"], "submit", "cand_a", "in_review", "submitted"),
    (["withdraw"], "submit", "cand_a", "withdrawn", "submitted"),
    (["withdraw"], "withdraw", "cand_a", "withdrawn", "withdrawn"),
    (["submit", "start-review", "close"], "withdraw", "cand_a", "closed", "withdrawn"),
    (["submit", "start-review", "close"], "start-review", "pref13", "closed", "in_review"),
]
WHO = {
    "submit": "cand_a",
    "withdraw": "cand_a",
    "start-review": "pref13",
    "return": "pref13",
    "close": "pref13",
}
BODY = {"return": {"message": "m"}, "close": {"reason": "r"}}


@pytest.mark.parametrize(("path", "action", "who", "current", "requested"), ILLEGAL)
async def test_r_flow_1_transitions_outside_the_graph_answer_409(
    dossier: Dossier, path: list[str], action: str, who: str, current: str, requested: str
) -> None:
    for step in path:
        assert (await dossier.act(step, WHO[step], BODY.get(step))).status_code == 200
    response = await dossier.act(action, who, BODY.get(action))
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "R-FLOW-1"
    assert (body["current_status"], body["requested_status"]) == (current, requested)
    assert await dossier.status() == current


async def test_r_flow_3_transitions_need_a_current_if_match(
    client: AsyncClient, actors: Actors, headers, dossier: Dossier
) -> None:
    missing = await client.post(f"{dossier.url}/submit", headers=headers(actors.cand_a))
    assert missing.status_code == 428
    stale = await dossier.act("submit", "cand_a", etag='"v0"')
    assert stale.status_code == 412
    assert await dossier.status() == "draft"


@pytest.mark.parametrize(
    ("action", "who", "status"),
    [
        ("submit", "pref13", 403),
        ("submit", "dinum", 403),
        ("submit", "cand_b", 404),
        ("withdraw", "cand_b", 404),
        ("withdraw", "anct", 403),
        ("start-review", "cand_a", 403),
        ("start-review", "dinum", 403),
        ("start-review", "anct", 403),
        ("start-review", "pref75", 404),
        ("close", "pref75", 404),
        ("return", "pref75", 404),
    ],
)
async def test_transitions_by_the_wrong_role_or_departement(
    dossier: Dossier, action: str, who: str, status: int
) -> None:
    if action in ("start-review", "close", "return"):
        await dossier.act("submit", "cand_a")
    if action in ("close", "return"):
        await dossier.act("start-review", "pref13")
    before = await dossier.status()
    response = await dossier.act(action, who, BODY.get(action))
    assert response.status_code == status
    assert await dossier.status() == before


async def test_return_and_close_need_their_message(dossier: Dossier) -> None:
    await dossier.act("submit", "cand_a")
    await dossier.act("start-review", "pref13")
    assert (await dossier.act("return", "pref13", {})).status_code == 422
    assert (await dossier.act("close", "pref13", {"reason": ""})).status_code == 422
    assert await dossier.status() == "in_review"


async def test_issue_28_the_submission_answers_with_the_bytes_of_the_dossier_s_read(
    client: AsyncClient, actors: Actors, headers, session: AsyncSession, marseille: Candidate
) -> None:
    """Issue 28: a submission's answer is written from fields of `ProjectRead`'s types without
    validating them (`PROJECT_JSON`). Its bytes and its ETag are those of the dossier's read
    right after (R-FLOW-1), team, lines and other funding included, and they are the model's."""
    project = await make_project(
        session,
        candidate=marseille,
        lines=[("development", 2_000_000), ("training", 500_000)],
        team=[{"name": "Mme Durand", "role": "Cheffe de projet", "availability_pct": 50}],
        funding_lines=[FundingLine(position=0, funder="Région Sud", amount_cents=100_000)],
    )
    dossier = Dossier(client, headers, actors, project.id)
    await dossier.file_documents()

    submitted = await dossier.act("submit", "cand_a")
    assert submitted.status_code == 200, submitted.text
    read = await client.get(dossier.url, headers=headers(actors.cand_a))
    assert submitted.content == read.content
    assert submitted.headers["ETag"] == read.headers["ETag"]
    body = submitted.json()
    assert ProjectRead.model_validate(body).model_dump_json().encode() == submitted.content
    assert [line["label"] for line in body["expense_lines"]] == ["development", "training"]
    assert body["team"] == [
        {"name": "Mme Durand", "role": "Cheffe de projet", "skills": None, "availability_pct": 50}
    ]
    assert [f["funder"] for f in body["other_funding"]] == ["Région Sud"]
    assert body["allowed_actions"] == ["withdraw"] and body["evaluations"] is None  # R-EVAL-4
