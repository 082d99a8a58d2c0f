"""Committees through the API (issue 9): agenda (R-COM-2, R-COM-4), decisions (R-CAP-1/2/3),
the close in one transaction or nothing (R-COM-3, R-CAP-4), minutes, the candidate's view, and
the accepted dossier's way to `completed`."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from app.core import clock
from tests.api.budgets.driver import Money, figures, problem, sql_envelope_and_ledger
from tests.api.committees.driver import Committees
from tests.api.evaluations.driver import PREF13_BIS, Evaluations, Headers, body as evaluation_body
from tests.conftest import Actors
from tests.factories import make_candidate, make_project

ALLEINS_SIREN = "211300033"  # a commune of the 13 under 5,000 inhabitants (R-COM-4)


async def dossier(
    session: AsyncSession, candidate: Candidate, requested: int = 1_000_000, **extra: Any
) -> uuid.UUID:
    """A dossier in review: 50 000 € of development, `requested` asked."""
    values: dict[str, Any] = {
        "status": "in_review",
        "submitted_at": clock.now(),
        "start_on": clock.today(),  # a final report today is not before it (R-PAY-3)
        "requested_cents": requested,
        "lines": [("development", 5_000_000)],
    }
    values.update(extra)
    project = await make_project(session, candidate=candidate, **values)
    return project.id


def agenda_ids(committee: dict[str, Any]) -> list[str]:
    return [row["project_id"] for row in committee["agenda"]]


# -- access ------------------------------------------------------------------------------------


async def test_committee_access_by_role_and_departement(
    committees: Committees, actors: Actors, session: AsyncSession, marseille: Candidate
) -> None:
    committee_id = await committees.new()
    # R-ACL-1: the prefect of another département does not see it (404, not 403)
    problem(await committees.read(committee_id, who=actors.pref75), 404, "committee-not-found")
    problem(await committees.minutes(committee_id, who=actors.pref75), 404, "committee-not-found")
    pid = await dossier(session, marseille)
    problem(
        await committees.agenda(committee_id, [pid], who=actors.pref75), 404, "committee-not-found"
    )
    # candidates never reach committees
    problem(await committees.read(committee_id, who=actors.cand_a), 403, "forbidden-role")
    listing = await committees.client.get(
        "/api/v1/committees", headers=committees.headers(actors.cand_a)
    )
    problem(listing, 403, "forbidden-role")
    # DINUM and ANCT read, but neither plan, set the agenda, decide nor close
    for national in (actors.dinum, actors.anct):
        assert (await committees.read(committee_id, who=national)).status_code == 200
        problem(await committees.create(who=national), 403, "forbidden-role")
        problem(await committees.agenda(committee_id, [pid], who=national), 403, "forbidden-role")
        problem(
            await committees.decide(committee_id, pid, "deferred", who=national),
            403,
            "forbidden-role",
        )
        problem(await committees.close(committee_id, who=national), 403, "forbidden-role")
    # lists: the prefect sees its own, DINUM all
    await committees.new(who=actors.pref75)
    mine = await committees.client.get(
        "/api/v1/committees", headers=committees.headers(actors.pref13)
    )
    assert {c["departement"] for c in mine.json()["items"]} == {"13"}
    every = await committees.client.get(
        "/api/v1/committees", params={"status": "planned"}, headers=committees.headers(actors.dinum)
    )
    assert {c["departement"] for c in every.json()["items"]} == {"13", "75"}


async def test_create_and_read_a_committee(committees: Committees, actors: Actors) -> None:
    created = await committees.create(title="Comité de juin", meeting_on="2021-06-15")
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["departement"], body["status"], body["meeting_on"]) == (
        "13",
        "planned",
        "2021-06-15",
    )
    assert body["chair"] == {"name": "M. le Préfet", "role": "Préfet"}
    assert body["agenda"] == []
    read = await committees.read(body["id"])
    assert read.headers["ETag"] == created.headers["ETag"] == f'"v{body["version"]}"'
    problem(await committees.create(members=[]), 422, "validation-error")


# -- agenda (R-COM-2, R-COM-4) -----------------------------------------------------------------


async def test_r_com_2_agenda_takes_only_in_review_dossiers_of_the_departement(
    committees: Committees, session: AsyncSession, marseille: Candidate, paris: Candidate
) -> None:
    committee_id = await committees.new()
    draft = await dossier(session, marseille, status="draft", submitted_at=None)
    submitted = await dossier(session, marseille, status="submitted")
    next_door = await dossier(session, paris)  # in review, but in the 75
    good = await dossier(session, marseille)

    body = problem(
        await committees.agenda(committee_id, [good, draft, submitted, next_door, uuid.uuid4()]),
        422,
        "R-COM-2",
    )
    failing = {(e["field"], e["project_id"]) for e in body["errors"]}
    assert failing == {
        ("/add/1", str(draft)),
        ("/add/2", str(submitted)),
        ("/add/3", str(next_door)),
        ("/add/4", next(str(e["project_id"]) for e in body["errors"] if e["field"] == "/add/4")),
    }
    assert all(e["code"] == "R-COM-2" for e in body["errors"])
    # nothing was added, not even the good one
    assert (await committees.read(committee_id)).json()["agenda"] == []

    added = await committees.agenda(committee_id, [good, good])
    assert added.status_code == 200, added.text
    assert agenda_ids(added.json()) == [str(good)]
    # R-COM-2: one open agenda at a time
    other = await committees.new()
    body = problem(await committees.agenda(other, [good]), 409, "R-COM-2")
    assert body["errors"][0]["project_id"] == str(good)
    # removal frees it
    removed = await committees.agenda(committee_id, remove=[good])
    assert removed.json()["agenda"] == []
    assert (await committees.agenda(other, [good])).status_code == 200


async def test_r_com_4_agenda_flags_small_candidates_and_orders_them_first(
    committees: Committees, session: AsyncSession, marseille: Candidate
) -> None:
    alleins = await make_candidate(session, siren=ALLEINS_SIREN)
    assert alleins.population is not None and alleins.population < 5_000
    earlier = await dossier(session, marseille, submitted_at=clock.now() - timedelta(days=3))
    later = await dossier(session, marseille, submitted_at=clock.now() - timedelta(days=1))
    small = await dossier(session, alleins, submitted_at=clock.now())
    committee_id = await committees.new()
    response = await committees.agenda(committee_id, [later, earlier, small])
    assert response.status_code == 200, response.text
    agenda = response.json()["agenda"]
    # no score yet: small candidates first (R-COM-4), then the earliest submission
    assert agenda_ids(response.json()) == [str(small), str(earlier), str(later)]
    assert [row["small_population"] for row in agenda] == [True, False, False]
    first = agenda[0]
    assert first["candidate_name"] == alleins.name
    assert (first["strand"], first["requested_cents"], first["max_grant_cents"]) == (
        "3c",
        1_000_000,
        5_000_000,
    )
    assert first["evaluations"] == {
        "count": 0,
        "mean_weighted_total": None,
        "advisory_count": 0,
        "advisory_mean_weighted_total": None,
    }


async def test_r_com_4_agenda_orders_by_the_prefectures_mean_score_not_anct_advice(
    committees: Committees,
    client: AsyncClient,
    headers: Headers,
    actors: Actors,
    session: AsyncSession,
    marseille: Candidate,
) -> None:
    """R-COM-4 / R-EVAL-3: the agenda is ordered by the mean weighted total of the prefecture's
    evaluations, best first; an ANCT advisory is shown apart and orders nothing, so a dossier
    scored by ANCT alone comes after the scored ones, small candidate or not."""
    alleins = await make_candidate(session, siren=ALLEINS_SIREN)
    weak = await dossier(session, marseille, submitted_at=clock.now() - timedelta(days=3))
    strong = await dossier(session, marseille, submitted_at=clock.now() - timedelta(days=1))
    advised = await dossier(session, alleins, strand="3b")
    evaluations = Evaluations(client, headers)
    await evaluations.evaluate(actors.pref13, weak, evaluation_body("3c", 2))
    await evaluations.evaluate(actors.pref13, strong, evaluation_body("3c", 4))
    await evaluations.evaluate(PREF13_BIS, strong, evaluation_body("3c", 5))
    advisory = await evaluations.evaluate(actors.anct, advised, evaluation_body("3b", 5))
    assert advisory["advisory"] is True
    committee_id = await committees.new()
    response = await committees.agenda(committee_id, [advised, weak, strong])
    assert response.status_code == 200, response.text
    assert agenda_ids(response.json()) == [str(strong), str(weak), str(advised)]
    rows = {row["project_id"]: row["evaluations"] for row in response.json()["agenda"]}
    assert rows[str(strong)]["count"] == 2
    assert rows[str(strong)]["mean_weighted_total"] == "4.50"
    assert rows[str(weak)]["mean_weighted_total"] == "2.00"
    assert rows[str(advised)] == {
        "count": 0,
        "mean_weighted_total": None,
        "advisory_count": 1,
        "advisory_mean_weighted_total": "5.00",
    }


# -- decisions ---------------------------------------------------------------------------------


async def test_decisions_are_checked_against_the_caps_at_once_and_open_the_session(
    committees: Committees, session: AsyncSession, marseille: Candidate
) -> None:
    pid = await dossier(session, marseille, requested=1_000_000)
    committee_id = await committees.new()
    await committees.agenda(committee_id, [pid])
    # R-CAP-1: never above the amount requested (nor the cap)
    body = problem(
        await committees.decide(committee_id, pid, "accepted", 1_500_000), 422, "R-CAP-1"
    )
    assert body["errors"][0]["field"] == "/granted_cents"
    # a rejection needs its motivation; an amount belongs to an acceptance only
    problem(await committees.decide(committee_id, pid, "rejected"), 422, "validation-error")
    problem(await committees.decide(committee_id, pid, "deferred", 10), 422, "validation-error")
    # R-FLOW-3: the committee's writes carry the ETag read (missing 428, stale 412)
    stale = await committees.etag(committee_id)
    problem(await committees.decide(committee_id, pid, "deferred", etag=""), 428, "R-FLOW-3")
    await committees.agenda(committee_id, [pid])  # a write: the version moves on
    problem(await committees.decide(committee_id, pid, "deferred", etag=stale), 412, "R-FLOW-3")
    problem(await committees.close(committee_id, etag=""), 428, "R-FLOW-3")
    # a dossier not on the agenda
    problem(await committees.decide(committee_id, uuid.uuid4(), "deferred"), 409, "R-COM-2")
    assert (await committees.read(committee_id)).json()["status"] == "planned"

    decided = await committees.decide(committee_id, pid, "accepted", 800_000, key="d-1")
    assert decided.status_code == 200, decided.text
    committee = decided.json()
    assert committee["status"] == "in_session"  # R-COM-2: the first decision opens it
    decision = committee["agenda"][0]["decision"]
    assert (decision["outcome"], decision["granted_cents"]) == ("accepted", 800_000)
    assert (decision["eligible_cost_cents"], decision["max_grant_cents"]) == (5_000_000, 5_000_000)
    replay = await committees.decide(committee_id, pid, "accepted", 800_000, key="d-1")
    assert replay.headers.get("Idempotent-Replayed") == "true"
    # changeable until the close: the new decision replaces the earlier one
    changed = await committees.decide(committee_id, pid, "rejected", motivation="Hors priorités.")
    decision = changed.json()["agenda"][0]["decision"]
    assert (decision["outcome"], decision["granted_cents"], decision["motivation"]) == (
        "rejected",
        None,
        "Hors priorités.",
    )


# -- close (R-COM-3) ---------------------------------------------------------------------------


async def test_r_com_3_close_over_the_envelope_changes_nothing_then_closes_exactly(
    committees: Committees,
    money: Money,
    session: AsyncSession,
    actors: Actors,
    marseille: Candidate,
) -> None:
    """The issue's scenario: 30 000 € available, grants of 20 000 € and 15 000 €."""
    assert (await money.allocate("13", 3_000_000)).status_code == 201
    big = await dossier(session, marseille, requested=2_000_000)
    mid = await dossier(session, marseille, requested=1_500_000)
    refused = await dossier(session, marseille)
    deferred = await dossier(session, marseille)
    committee_id = await committees.new()
    assert (await committees.agenda(committee_id, [big, mid, refused, deferred])).status_code == 200
    await committees.decide(committee_id, big, "accepted", 2_000_000)
    await committees.decide(committee_id, mid, "accepted", 1_500_000)
    await committees.decide(committee_id, refused, "rejected", motivation="Projet non prioritaire.")
    await committees.decide(committee_id, deferred, "deferred")
    envelope_before = await money.envelope("13")
    sql_before = await sql_envelope_and_ledger(session, "13")
    problem(await committees.decision(big, who=actors.cand_a), 404, "decision-not-found")

    # R-COM-3 / R-CAP-4: 409 with the shortfall, and nothing changes
    body = problem(await committees.close(committee_id, key="close-1"), 409, "R-COM-3")
    assert body["shortfall_cents"] == 500_000
    envelope_item = next(e for e in body["errors"] if e["field"] == "/envelope")
    assert (envelope_item["code"], envelope_item["shortfall_cents"]) == ("R-CAP-4", 500_000)
    assert [e["code"] for e in body["errors"] if e.get("project_id")] == ["R-CAP-4"]
    assert await money.envelope("13") == envelope_before
    assert await sql_envelope_and_ledger(session, "13") == sql_before
    assert [m["kind"] for m in await money.ledger("13")] == ["allocation"]
    for pid in (big, mid, refused, deferred):
        assert await money.status(pid) == "in_review"
    assert (await committees.read(committee_id)).json()["status"] == "in_session"

    # lowering one grant to 10 000 € lets it close, with 0 € left
    await committees.decide(committee_id, mid, "accepted", 1_000_000)
    closed = await committees.close(committee_id, key="close-2")
    assert closed.status_code == 200, closed.text
    committee = closed.json()
    assert committee["status"] == "closed"
    assert (
        committee["envelope_available_before_cents"],
        committee["envelope_available_after_cents"],
    ) == (3_000_000, 0)
    assert figures(await money.envelope("13")) == (3_000_000, 3_000_000, 0, 0)
    assert sorted(m["committed_delta_cents"] for m in await money.ledger("13")) == [
        0,
        1_000_000,
        2_000_000,
    ]
    allocated, ledger, _ = await sql_envelope_and_ledger(session, "13")
    assert allocated == (ledger[0], ledger[1], ledger[2]) == (3_000_000, 3_000_000, 0)
    replay = await committees.close(committee_id, key="close-2")
    assert replay.headers.get("Idempotent-Replayed") == "true"

    assert (await money.status(big), await money.status(mid)) == ("accepted", "accepted")
    grant = (await money.grant(mid)).json()
    assert grant["amount_cents"] == 1_000_000
    assert committee_id in grant["decision_reference"]
    decisions = {row["project_id"]: row["decision"] for row in committee["agenda"]}
    big_decision = decisions[str(big)]
    assert (big_decision["envelope_available_before_cents"], big_decision["max_grant_cents"]) in {
        (3_000_000, 5_000_000),
        (1_000_000, 5_000_000),
    }
    assert (
        big_decision["envelope_available_before_cents"]
        - big_decision["envelope_available_after_cents"]
        == 2_000_000
    )
    rejected = (await money.project(refused)).json()
    assert (rejected["status"], rejected["status_message"]) == (
        "rejected",
        "Projet non prioritaire.",
    )
    assert await money.status(deferred) == "in_review"

    # the candidate sees its decisions now, with amount and motivation
    seen = await committees.decision(mid, who=actors.cand_a)
    assert seen.status_code == 200, seen.text
    assert (seen.json()["outcome"], seen.json()["granted_cents"], seen.json()["final"]) == (
        "accepted",
        1_000_000,
        True,
    )
    motivated = (await committees.decision(refused, who=actors.cand_a)).json()
    assert (motivated["outcome"], motivated["motivation"]) == (
        "rejected",
        "Projet non prioritaire.",
    )

    # R-COM-3: closed is final
    problem(
        await committees.decide(committee_id, mid, "accepted", 500_000), 409, "committee-closed"
    )
    problem(await committees.agenda(committee_id, remove=[mid]), 409, "committee-closed")
    problem(await committees.close(committee_id), 409, "committee-closed")
    # the deferred dossier left the agenda: a later committee takes it
    later = await committees.new(meeting_on="2021-07-15")
    assert agenda_ids((await committees.agenda(later, [deferred])).json()) == [str(deferred)]

    minutes = (await committees.minutes(committee_id, who=actors.dinum)).json()
    assert minutes["chair"]["name"] == "M. le Préfet"
    assert (
        minutes["envelope_available_before_cents"],
        minutes["envelope_available_after_cents"],
    ) == (3_000_000, 0)
    assert minutes["totals"] == [
        {
            "strand": "3c",
            "accepted_count": 2,
            "accepted_cents": 3_000_000,
            "rejected_count": 1,
            "deferred_count": 1,
        }
    ]
    assert minutes["accepted_cents"] == 3_000_000
    assert {d["decision"]["outcome"] for d in minutes["decisions"]} == {
        "accepted",
        "rejected",
        "deferred",
    }


async def test_r_com_3_close_lists_every_failing_dossier(
    committees: Committees, money: Money, session: AsyncSession, marseille: Candidate
) -> None:
    """R-REF-2 (candidate not verified) and an undecided dossier fail together; nothing moves."""
    assert (await money.allocate("13", 10_000_000)).status_code == 201
    syndicat = await make_candidate(
        session, siren="130025265", kind="syndicat", verification="to_verify"
    )
    unverified = await dossier(session, syndicat)
    undecided = await dossier(session, marseille)
    fine = await dossier(session, marseille)
    committee_id = await committees.new()
    await committees.agenda(committee_id, [unverified, undecided, fine])
    await committees.decide(committee_id, unverified, "accepted", 1_000_000)
    await committees.decide(committee_id, fine, "accepted", 1_000_000)
    body = problem(await committees.close(committee_id), 409, "R-COM-3")
    assert {(e["code"], e["project_id"]) for e in body["errors"]} == {
        ("R-REF-2", str(unverified)),
        ("R-COM-3", str(undecided)),
    }
    assert body["shortfall_cents"] == 0
    assert await money.status(fine) == "in_review"
    assert [m["kind"] for m in await money.ledger("13")] == ["allocation"]


async def test_candidate_sees_the_decision_only_after_the_close(
    committees: Committees,
    money: Money,
    session: AsyncSession,
    actors: Actors,
    marseille: Candidate,
) -> None:
    assert (await money.allocate("13", 10_000_000)).status_code == 201
    pid = await dossier(session, marseille)
    committee_id = await committees.new()
    await committees.agenda(committee_id, [pid])
    await committees.decide(committee_id, pid, "accepted", 1_000_000)
    problem(await committees.decision(pid, who=actors.cand_a), 404, "decision-not-found")
    pending = await committees.decision(pid, who=actors.pref13)
    assert (pending.json()["final"], pending.json()["committee_status"]) == (False, "in_session")
    problem(await committees.decision(pid, who=actors.cand_b), 404, "project-not-found")
    assert (await committees.close(committee_id)).status_code == 200
    seen = await committees.decision(pid, who=actors.cand_a)
    assert seen.status_code == 200
    assert seen.json()["committee_id"] == committee_id


async def test_an_accepted_dossier_goes_from_committee_to_completed(
    committees: Committees, money: Money, session: AsyncSession, marseille: Candidate
) -> None:
    """After the close: convention, advance, instalment, final report, balance → completed."""
    assert (await money.allocate("13", 10_000_000)).status_code == 201
    pid = await dossier(session, marseille)
    await committees.grant(pid, 1_000_000)
    assert (await money.convention(pid)).status_code == 200
    assert (await money.pay(pid, "advance", 300_000)).status_code == 201
    assert (await money.pay(pid, "instalment", 500_000)).status_code == 201
    assert (await money.final_report(pid)).status_code == 200
    assert (await money.pay(pid, "balance", 200_000)).status_code == 201
    assert await money.status(pid) == "completed"
    assert figures(await money.envelope("13")) == (10_000_000, 1_000_000, 1_000_000, 9_000_000)


async def test_committee_list_pages_and_filters(
    committees: Committees, actors: Actors, clock_at: Any
) -> None:
    first = await committees.new()
    second = await committees.new(meeting_on="2021-07-01")
    headers = committees.headers(actors.pref13)
    page = await committees.client.get("/api/v1/committees", params={"limit": 1}, headers=headers)
    assert [c["id"] for c in page.json()["items"]] == [first]
    cursor = page.json()["next_cursor"]
    rest = await committees.client.get(
        "/api/v1/committees", params={"limit": 1, "cursor": cursor}, headers=headers
    )
    assert [c["id"] for c in rest.json()["items"]] == [second]
    assert rest.json().get("next_cursor") is None
    # updated_since (R-SYNC-1): only what changed since then
    clock_at("2021-03-01")
    await committees.create(meeting_on="2021-08-01")
    since = await committees.client.get(
        "/api/v1/committees",
        params={"updated_since": "2021-02-28T00:00:00Z"},
        headers=headers,
    )
    assert [c["meeting_on"] for c in since.json()["items"]] == ["2021-08-01"]
    other = await committees.client.get(
        "/api/v1/committees", params={"departement": "75"}, headers=headers
    )
    assert other.json()["items"] == []
