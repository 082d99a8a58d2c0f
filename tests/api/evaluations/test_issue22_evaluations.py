"""Issue 22: a recusal is final (R-EVAL-2); evaluations of a dossier's former strand are void,
the mean is taken over unrounded totals (R-EVAL-5); the service itself hides evaluations from
candidates (R-EVAL-4)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from app.core.pagination import PageParams
from app.evaluations import service as evaluations_service
from app.evaluations.errors import EvaluationForbidden
from app.evaluations.router import EVALUATIONS_CURSOR
from tests.api.evaluations.driver import PREF13_BIS, PROJECTS, Evaluations, body, problem, scores
from tests.conftest import AIX_SIREN, MARSEILLE_SIREN, Actors
from tests.factories import make_candidate, make_project
from tests.support import file_required_documents


@pytest.fixture
async def marseille(session: AsyncSession) -> Candidate:
    await make_candidate(session, siren=AIX_SIREN)
    return await make_candidate(session, siren=MARSEILLE_SIREN)


@pytest.fixture
def evals(client: AsyncClient, headers) -> Evaluations:  # type: ignore[no-untyped-def]
    return Evaluations(client, headers)


async def in_review(session: AsyncSession, candidate: Candidate, strand: str) -> uuid.UUID:
    project = await make_project(
        session, candidate=candidate, strand=strand, status="in_review", start_on=date(2021, 6, 1)
    )
    return project.id


# -- R-EVAL-2: a recusal is final -------------------------------------------------------------


async def test_r_eval_2_a_recusal_cannot_be_patched_into_scores(
    session: AsyncSession, actors: Actors, evals: Evaluations, marseille: Candidate
) -> None:
    project_id = await in_review(session, marseille, "3c")
    recused = await evals.evaluate(actors.pref13, project_id, {"conflict_of_interest": True})
    url_id = recused["id"]
    for change in (
        {"conflict_of_interest": False, "scores": scores("3c", 5), "recommendation": "fund"},
        {"scores": scores("3c", 5), "recommendation": "fund"},
        {"conflict_of_interest": False},
    ):
        refused = problem(await evals.patch(actors.pref13, url_id, change, '"v1"'), 409, "R-EVAL-2")
        assert "définitif" in refused["detail"]
    kept = (await evals.get(actors.pref13, url_id)).json()
    assert (kept["recused"], kept["scores"], kept["version"]) == (True, None, 1)
    summary = (await evals.project(actors.pref13, project_id)).json()["evaluations"]
    assert (summary["count"], summary["mean_weighted_total"]) == (0, None)
    # Its comment may still be completed: it stays a recusal.
    noted = await evals.patch(actors.pref13, url_id, {"comments": "Conjoint au conseil."}, '"v1"')
    assert noted.status_code == 200, noted.text
    assert noted.json()["recused"] is True


# -- R-EVAL-5: evaluations of another strand ----------------------------------------------------


async def _return_and_switch(
    client: AsyncClient,
    headers,  # type: ignore[no-untyped-def]
    actors: Actors,
    project_id: uuid.UUID,
    strand: str,
    *,
    resubmit: bool = True,
) -> dict:  # type: ignore[type-arg]
    url = f"{PROJECTS}/{project_id}"
    etag = (await client.get(url, headers=headers(actors.pref13))).headers["ETag"]
    returned = await client.post(
        f"{url}/return",
        json={"message": "Ce projet relève du volet 3c."},
        headers={**headers(actors.pref13), "If-Match": etag},
    )
    assert returned.status_code == 200, returned.text
    etag = (await client.get(url, headers=headers(actors.cand_a))).headers["ETag"]
    switched = await client.patch(
        url, json={"strand": strand}, headers={**headers(actors.cand_a), "If-Match": etag}
    )
    assert switched.status_code == 200, switched.text
    etag = switched.headers["ETag"]
    if not resubmit:
        result: dict = switched.json()  # type: ignore[type-arg]
        return result
    await file_required_documents(client, headers(actors.cand_a), project_id)  # R-DOC-1
    submitted = await client.post(
        f"{url}/submit", headers={**headers(actors.cand_a), "If-Match": etag}
    )
    assert submitted.status_code == 200, submitted.text
    resubmitted: dict = submitted.json()  # type: ignore[type-arg]
    return resubmitted


async def test_r_eval_5_a_strand_change_voids_the_former_strands_evaluations(
    client: AsyncClient,
    session: AsyncSession,
    actors: Actors,
    headers,
    evals: Evaluations,
    marseille: Candidate,
) -> None:
    """The issue's counter-example: 3b, evaluated by ANCT and the prefecture, returned,
    switched to 3c, resubmitted: no mean from 3b-grid scores, ANCT's PATCH refused."""
    project_id = await in_review(session, marseille, "3b")
    prefecture = await evals.evaluate(actors.pref13, project_id, body("3b", 4))
    anct = await evals.evaluate(actors.anct, project_id, body("3b", 2))
    before = (await evals.project(actors.dinum, project_id)).json()["evaluations"]
    assert (before["mean_weighted_total"], before["advisory_mean_weighted_total"]) == (
        "4.00",
        "2.00",
    )

    await _return_and_switch(client, headers, actors, project_id, "3c")

    # Kept and readable, with their status; out of every mean.
    listed = (await evals.list(actors.dinum, project_id)).json()["items"]
    assert [(i["id"], i["status"]) for i in listed] == [
        (prefecture["id"], "void"),
        (anct["id"], "void"),
    ]
    assert [i["weighted_total"] for i in listed] == ["4.00", "2.00"]
    read = await evals.get(actors.pref13, prefecture["id"])
    assert read.json()["status"] == "void"
    assert read.headers["ETag"] == '"v2"'  # voiding is a change of the evaluation
    empty = {
        "count": 0,
        "mean_weighted_total": None,
        "advisory_count": 0,
        "advisory_mean_weighted_total": None,
    }
    for who in (actors.pref13, actors.dinum, actors.anct):
        assert (await evals.project(who, project_id)).json()["evaluations"] == empty
    page = await client.get(PROJECTS, params={"strand": "3c"}, headers=headers(actors.pref13))
    (item,) = [p for p in page.json()["items"] if p["id"] == str(project_id)]
    assert item["evaluations"] == empty

    # Not editable: ANCT no more on a 3c dossier (403, as its POST); the prefect's void (409).
    anct_patch = await evals.patch(actors.anct, anct["id"], {"comments": "x"}, '"v2"')
    problem(anct_patch, 403, "R-EVAL-5")
    problem(await evals.post(actors.anct, project_id, body("3c")), 403, "R-EVAL-3")
    void_patch = await evals.patch(
        actors.pref13, prefecture["id"], {"scores": scores("3b", 5)}, '"v2"'
    )
    assert "caduque" in problem(void_patch, 409, "R-EVAL-5")["detail"]

    # The prefect evaluates anew, on the 3c grid; only that one makes the mean.
    anew = await evals.evaluate(actors.pref13, project_id, body("3c", 3))
    assert (anew["status"], anew["grid_version"]) == ("active", 1)
    summary = (await evals.project(actors.dinum, project_id)).json()["evaluations"]
    assert (summary["count"], summary["mean_weighted_total"]) == (1, "3.00")
    problem(await evals.post(actors.pref13, project_id, body("3c")), 409, "R-EVAL-2")


async def test_r_eval_5_a_void_evaluation_says_so_while_the_dossier_is_a_draft_again(
    client: AsyncClient,
    session: AsyncSession,
    actors: Actors,
    headers,  # type: ignore[no-untyped-def]
    evals: Evaluations,
    marseille: Candidate,
) -> None:
    """Void is for good: the PATCH names R-EVAL-5 before the dossier's state (R-EVAL-2)."""
    project_id = await in_review(session, marseille, "3b")
    evaluation = await evals.evaluate(actors.pref13, project_id, body("3b", 4))
    draft = await _return_and_switch(client, headers, actors, project_id, "3c", resubmit=False)
    assert draft["status"] == "draft"
    refused = await evals.patch(actors.pref13, evaluation["id"], {"comments": "x"}, '"v2"')
    assert problem(refused, 409, "R-EVAL-5")["status_current"] == "draft"


async def test_r_eval_5_a_recusal_outlives_a_strand_change(
    client: AsyncClient,
    session: AsyncSession,
    actors: Actors,
    headers,
    evals: Evaluations,
    marseille: Candidate,
) -> None:
    """Decided for the README: a recusal scored nothing and stays the evaluator's on the
    dossier, whatever its strand (R-EVAL-2); only scored evaluations become void."""
    project_id = await in_review(session, marseille, "3b")
    recusal = await evals.evaluate(actors.pref13, project_id, {"conflict_of_interest": True})
    await evals.evaluate(PREF13_BIS, project_id, body("3b", 4))
    await _return_and_switch(client, headers, actors, project_id, "3c")
    kept = (await evals.get(actors.dinum, recusal["id"])).json()
    assert (kept["status"], kept["recused"]) == ("active", True)
    problem(await evals.post(actors.pref13, project_id, body("3c")), 409, "R-EVAL-2")
    await evals.evaluate(PREF13_BIS, project_id, body("3c", 2))
    summary = (await evals.project(actors.dinum, project_id)).json()["evaluations"]
    assert (summary["count"], summary["mean_weighted_total"]) == (1, "2.00")


async def test_r_eval_5_the_mean_is_taken_over_unrounded_totals(
    session: AsyncSession, actors: Actors, evals: Evaluations, marseille: Candidate
) -> None:
    project_id = await in_review(session, marseille, "3b")
    # 3b: Σ weight = 200. All 1, equipe_organisation (25) at 2: 225 / 200 = 1.125 → 1.13;
    # niveau_portage (30) at 2 too: 255 / 200 = 1.275 → 1.28 (each shown rounded).
    first = await evals.evaluate(actors.pref13, project_id, body("3b", 1, equipe_organisation=2))
    second = await evals.evaluate(
        PREF13_BIS, project_id, body("3b", 1, equipe_organisation=2, niveau_portage=2)
    )
    assert (first["weighted_total"], second["weighted_total"]) == ("1.13", "1.28")
    # The mean of 1.125 and 1.275 is 1.20; of the rounded totals it would be 1.205 → 1.21.
    summary = (await evals.project(actors.dinum, project_id)).json()["evaluations"]
    assert summary["mean_weighted_total"] == "1.20"


# -- R-EVAL-4 in the service itself -------------------------------------------------------------


async def test_r_eval_4_the_service_refuses_a_candidate_every_evaluation_read(
    session: AsyncSession, actors: Actors, evals: Evaluations, marseille: Candidate
) -> None:
    """No route in between: the service alone refuses the dossier's own candidate."""
    project_id = await in_review(session, marseille, "3c")
    created = await evals.evaluate(actors.pref13, project_id, body("3c"))
    page = PageParams(limit=50, cursor=None, format=EVALUATIONS_CURSOR)
    rows, _ = await evaluations_service.list_evaluations(
        session, actors.pref13, project_id=project_id, page=page
    )
    assert [str(e.id) for e in rows] == [created["id"]]
    with pytest.raises(EvaluationForbidden) as listed:
        await evaluations_service.list_evaluations(
            session, actors.cand_a, project_id=project_id, page=page
        )
    assert listed.value.code == "R-EVAL-4"
    with pytest.raises(EvaluationForbidden) as read:
        await evaluations_service.get_evaluation(
            session, actors.cand_a, evaluation_id=uuid.UUID(created["id"])
        )
    assert read.value.code == "R-EVAL-4"
