"""Issue 13: every hot read costs a constant number of statements, whatever the page size, the
lines of a dossier or its evaluations (tests/querycount.py says what is counted: the data
statements plus the request's BEGIN and COMMIT)."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.programme import cache as programme_cache
from tests.api.committees.driver import Committees
from tests.api.evaluations.driver import PREF13_BIS, PREF13_TER, Evaluations, body
from tests.api.stats.dataset import Builder, Dataset, build
from tests.conftest import Actors
from tests.factories import make_candidate, make_project
from tests.querycount import count_statements

LIST_BUDGET = 3  # BEGIN, one SELECT, COMMIT
# BEGIN, the project with its candidate, its lines and funding in one statement (issue 28), COMMIT
PROJECT_BUDGET = 3
# The report also says which documents the dossier's next step lacks (R-DOC-1): read in the
# dossier's own statement since issue 28's fourth round (one statement, no snapshot to hold).
ELIGIBILITY_BUDGET = PROJECT_BUDGET
COMMITTEE_BUDGET = 5  # BEGIN, the committee, its agenda, the agenda's expense lines, COMMIT


async def cost(client: AsyncClient, engine: AsyncEngine, url: str, headers: dict[str, str]) -> int:
    with count_statements(engine) as log:
        response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    print(url, log.total, "\n", log.explain())  # noqa: T201
    return log.total


@pytest.fixture
async def dataset(
    client: AsyncClient, session: AsyncSession, headers: Any, clock_at: Any
) -> Dataset:
    return await build(Builder(client, session, headers, clock_at))


LISTS = [
    ("/api/v1/projects", "dinum"),
    ("/api/v1/projects?status=accepted", "dinum"),
    ("/api/v1/projects?departement=13&status=accepted", "dinum"),
    ("/api/v1/projects?status=accepted", "pref13"),
    ("/api/v1/projects", "cand_a"),
    ("/api/v1/candidates", "dinum"),
    ("/api/v1/envelopes", "dinum"),
    ("/api/v1/envelopes/13/ledger", "pref13"),
    ("/api/v1/committees", "dinum"),
    ("/api/v1/audit-events", "dinum"),
]


@pytest.mark.parametrize(("url", "who"), LISTS)
async def test_lists_cost_one_select_whatever_the_page_size(
    client: AsyncClient,
    engine: AsyncEngine,
    headers: Any,
    actors: Actors,
    dataset: Dataset,
    url: str,
    who: str,
) -> None:
    h = headers(getattr(actors, who))
    sep = "&" if "?" in url else "?"
    one = await cost(client, engine, f"{url}{sep}limit=1", h)
    full = await cost(client, engine, f"{url}{sep}limit=200", h)
    assert one == full <= LIST_BUDGET


async def test_project_reads_cost_the_same_whatever_the_lines(
    client: AsyncClient, engine: AsyncEngine, session: AsyncSession, headers: Any, actors: Actors
) -> None:
    candidate = await make_candidate(session, siren="211300553")
    small = await make_project(session, candidate=candidate)
    large = await make_project(session, candidate=candidate, lines=[("development", 100_000)] * 20)
    h = headers(actors.pref13)
    for suffix, budget in (("", PROJECT_BUDGET), ("/eligibility", ELIGIBILITY_BUDGET)):
        costs = [
            await cost(client, engine, f"/api/v1/projects/{p.id}{suffix}", h)
            for p in (small, large)
        ]
        assert costs[0] == costs[1] <= budget, suffix


async def test_envelope_read_costs_one_select(
    client: AsyncClient, engine: AsyncEngine, headers: Any, actors: Actors, dataset: Dataset
) -> None:
    assert await cost(client, engine, "/api/v1/envelopes/13", headers(actors.pref13)) <= 3
    for project_id in dataset.ids.values():  # every status, grants and decisions included
        url = f"/api/v1/projects/{project_id}"
        dinum = headers(actors.dinum)
        assert await cost(client, engine, url, dinum) <= PROJECT_BUDGET
        assert await cost(client, engine, f"{url}/eligibility", dinum) <= ELIGIBILITY_BUDGET


async def test_grant_and_decision_reads_cost_one_select(
    client: AsyncClient, engine: AsyncEngine, headers: Any, actors: Actors, dataset: Dataset
) -> None:
    """Issue 28: the grant read (the dossier in scope, its grant, convention and payments) and
    the decision read (the dossier in scope, its decisions and their committees) are one
    SELECT each on the lean read path, whatever the payments, for every role's scope
    (R-ACL-1)."""
    # p1: convention and a payment; p2: convention, no payment; p4: no convention; p3:
    # cancelled after a payment; p5: rejected (a decision, no grant).
    ids = dataset.ids
    for key, who in (
        ("p1", actors.cand_a),
        ("p1", actors.pref13),
        ("p2", actors.dinum),
        ("p3", actors.pref75),
        ("p4", actors.cand_a),
    ):
        url = f"/api/v1/projects/{ids[key]}"
        assert await cost(client, engine, f"{url}/grant", headers(who)) == LIST_BUDGET, key
        assert await cost(client, engine, f"{url}/decision", headers(who)) == LIST_BUDGET, key
    url = f"/api/v1/projects/{ids['p5']}/decision"
    assert await cost(client, engine, url, headers(actors.dinum)) == LIST_BUDGET


async def test_committee_read_costs_the_same_whatever_the_agenda(
    client: AsyncClient, engine: AsyncEngine, session: AsyncSession, headers: Any, actors: Actors
) -> None:
    """Issue 28: the committee read is three SELECTs on one snapshot (the committee in scope
    with its programme's version, its agenda, the agenda's expense lines), whatever the
    dossiers on its agenda and their lines."""
    committees = Committees(client, headers, actors)
    candidate = await make_candidate(session, siren="211300553")
    small, large = await committees.new(), await committees.new()
    one = await make_project(session, candidate=candidate, status="in_review")
    many = [
        await make_project(
            session, candidate=candidate, status="in_review", lines=[("development", 100_000)] * 5
        )
        for _ in range(4)
    ]
    assert (await committees.agenda(small, [one.id])).status_code == 200
    assert (await committees.agenda(large, [p.id for p in many])).status_code == 200
    costs = [
        await cost(client, engine, f"/api/v1/committees/{c}", headers(who))
        for c in (small, large)
        for who in (actors.pref13, actors.dinum)
    ]
    assert costs == [COMMITTEE_BUDGET] * 4
    # A programme this process has not cached (or an older version of it) is read on the
    # snapshot: one statement more, the same answer.
    url = f"/api/v1/committees/{large}"
    cached = await client.get(url, headers=headers(actors.dinum))
    programme_cache.clear()
    assert await cost(client, engine, url, headers(actors.dinum)) == COMMITTEE_BUDGET + 1
    assert await cost(client, engine, url, headers(actors.dinum)) == COMMITTEE_BUDGET
    assert (await client.get(url, headers=headers(actors.dinum))).content == cached.content


async def test_reads_cost_the_same_whatever_the_evaluations(
    client: AsyncClient, engine: AsyncEngine, session: AsyncSession, headers: Any, actors: Actors
) -> None:
    candidate = await make_candidate(session, siren="211300553")
    ids = [
        (await make_project(session, candidate=candidate, status="in_review")).id for _ in range(2)
    ]
    evals = Evaluations(client, headers)
    await evals.evaluate(actors.pref13, ids[0], body("3c"))
    for who in (actors.pref13, PREF13_BIS, PREF13_TER):
        await evals.evaluate(who, ids[1], body("3c"))
    h = headers(actors.dinum)
    for suffix, budget in (
        ("", PROJECT_BUDGET),
        ("/eligibility", ELIGIBILITY_BUDGET),
        ("/evaluations?limit=1", LIST_BUDGET),
        ("/evaluations?limit=200", LIST_BUDGET),
    ):
        costs = [await cost(client, engine, f"/api/v1/projects/{i}{suffix}", h) for i in ids]
        assert costs[0] == costs[1] <= budget, suffix


async def test_the_cached_programme_follows_an_edit_made_by_another_instance(
    client: AsyncClient, session: AsyncSession, headers: Any, actors: Actors
) -> None:
    """Issue 13: the programme is cached per process and revalidated by its version, so an
    edit committed by another instance (here: straight in the database, version bumped as the
    ORM does) is seen at the next read, with no restart."""
    candidate = await make_candidate(session, siren="211300553")
    project = await make_project(session, candidate=candidate)
    url = f"/api/v1/projects/{project.id}/eligibility"
    h = headers(actors.pref13)
    before = (await client.get(url, headers=h)).json()["funding_cap_cents"]
    await session.execute(
        text(
            "UPDATE programme SET funding_cap_rate_bps = funding_cap_rate_bps / 2,"
            " version = version + 1 WHERE code = 'FITN7-AXE3'"
        )
    )
    after = (await client.get(url, headers=h)).json()["funding_cap_cents"]
    assert before > 0 and after == before // 2
