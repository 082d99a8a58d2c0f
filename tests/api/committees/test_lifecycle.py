"""A committee's life at its edges (issue 22): what makes one due (R-COM-1), its meeting date,
cancellation, the refused empty close, decisions not before the meeting, dossiers leaving an
open agenda, agenda ids that are not dossiers in review (R-COM-2), and the recused agent who
does not decide (R-EVAL-2)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.candidates.models import Candidate
from app.core import clock
from app.projects.models import Project
from tests.api.audit.test_audit_events import events
from tests.api.budgets.driver import problem
from tests.api.committees.driver import Committees
from tests.api.committees.test_committees import agenda_ids, dossier
from tests.api.evaluations.driver import PREF13_BIS, Evaluations, Headers
from tests.conftest import Actors
from tests.factories import make_project

PROJECTS = "/api/v1/projects"


# -- R-COM-1 -----------------------------------------------------------------------------------


async def test_r_com_1_ten_submitted_then_returned_or_closed_are_not_due(
    committees: Committees, session: AsyncSession, marseille: Candidate
) -> None:
    """R-COM-1: returned (a draft again) and closed (sans suite) dossiers are not waiting, so
    ten of them never make a committee due."""
    for status in ["draft"] * 5 + ["closed"] * 5:
        await make_project(
            session,
            candidate=marseille,
            status=status,
            submitted_at=clock.now(),
            returned_at=clock.now() if status == "draft" else None,
        )
    row = (await committees.status())["13"]
    assert (row["due"], row["reason"], row["submitted_since_last"], row["waiting"]) == (
        False,
        None,
        0,
        0,
    )


async def test_r_com_1_first_committee_month_runs_from_the_oldest_waiting_submission(
    committees: Committees,
    session: AsyncSession,
    marseille: Candidate,
    clock_at: Callable[[str], object],
) -> None:
    """R-COM-1: before the first committee, the calendar month runs from the oldest *waiting*
    submission; an earlier dossier since returned does not start it."""
    await make_project(
        session,
        candidate=marseille,
        status="draft",
        submitted_at=clock.now(),  # 2021-02-15, since returned
        returned_at=clock.now(),
    )
    clock_at("2021-03-01")
    waiting = await make_project(
        session, candidate=marseille, status="submitted", submitted_at=clock.now()
    )
    clock_at("2021-03-20")
    row = (await committees.status())["13"]
    assert (row["due"], row["waiting"], row["submitted_since_last"]) == (False, 1, 1)
    assert row["first_submitted_at"] == waiting.submitted_at.isoformat().replace("+00:00", "Z")
    clock_at("2021-04-01")
    row = (await committees.status())["13"]
    assert (row["due"], row["reason"]) == (True, "month")


# -- R-COM-2: meeting date ---------------------------------------------------------------------


async def test_r_com_2_meeting_date_inside_the_programme_and_not_in_the_past(
    committees: Committees,
) -> None:
    """R-COM-2: on or after the window's opening (2021-01-25), not after the results deadline
    (2022-12-31), not before today (the suite's clock: 2021-02-15)."""
    for day in ("2100-12-31", "2000-01-01", "2023-01-01", "2021-01-25", "2021-02-14"):
        body = problem(await committees.create(meeting_on=day), 422, "R-COM-2")
        assert [e["field"] for e in body["errors"]] == ["/meeting_on"], day
        assert day in body["detail"]
    for day in ("2021-02-15", "2022-12-31"):
        assert (await committees.create(meeting_on=day)).status_code == 201, day


async def test_r_com_2_no_decision_before_the_meeting_date(
    committees: Committees,
    session: AsyncSession,
    marseille: Candidate,
    clock_at: Callable[[str], object],
) -> None:
    pid = await dossier(session, marseille)
    committee_id = await committees.new(meeting_on="2021-03-01")
    assert (await committees.agenda(committee_id, [pid])).status_code == 200
    body = problem(await committees.decide(committee_id, pid, "deferred"), 409, "R-COM-2")
    assert body["meeting_on"] == "2021-03-01"
    assert (await committees.read(committee_id)).json()["status"] == "planned"
    clock_at("2021-03-01T08:00:00+01:00")  # the day of the meeting, Paris time
    assert (await committees.decide(committee_id, pid, "deferred")).status_code == 200


# -- R-COM-2: cancel, never an empty close -----------------------------------------------------


async def test_r_com_2_a_planned_committee_is_never_closed(
    committees: Committees, session: AsyncSession, marseille: Candidate
) -> None:
    """R-COM-2: a committee with no decision cannot be closed (empty agenda or undecided one),
    so R-COM-1's count is not reset by an empty close."""
    await make_project(session, candidate=marseille, status="submitted", submitted_at=clock.now())
    empty = await committees.new()
    problem(await committees.close(empty), 409, "R-COM-2")
    undecided = await committees.new()
    assert (await committees.agenda(undecided, [await dossier(session, marseille)])).is_success
    problem(await committees.close(undecided), 409, "R-COM-2")
    for committee_id in (empty, undecided):
        read = (await committees.read(committee_id)).json()
        assert (read["status"], read["closed_at"]) == ("planned", None)
    row = (await committees.status())["13"]
    assert (row["since"], row["submitted_since_last"]) == (None, 2)


async def test_r_com_2_cancel_a_planned_committee(
    committees: Committees, session: AsyncSession, marseille: Candidate, actors: Actors
) -> None:
    pid = await dossier(session, marseille)
    committee_id = await committees.new()
    assert (await committees.agenda(committee_id, [pid])).status_code == 200
    # R-ACL-1: only its prefecture; another département's does not see it
    problem(await committees.cancel(committee_id, who=actors.dinum), 403, "forbidden-role")
    problem(await committees.cancel(committee_id, who=actors.pref75), 404, "committee-not-found")
    problem(await committees.cancel(committee_id, etag=""), 428, "R-FLOW-3")

    cancelled = await committees.cancel(committee_id)
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "cancelled" and body["cancelled_at"] is not None
    assert cancelled.headers["ETag"] == f'"v{body["version"]}"'
    # its dossier is free for another committee; the cancelled one changes no more
    other = await committees.new()
    assert (await committees.agenda(other, [pid])).status_code == 200
    for refused in (
        await committees.agenda(committee_id, remove=[pid]),
        await committees.decide(committee_id, pid, "deferred"),
        await committees.close(committee_id),
        await committees.cancel(committee_id),
    ):
        problem(refused, 409, "R-COM-2")
    listed = await committees.client.get(
        "/api/v1/committees",
        params={"status": "cancelled"},
        headers=committees.headers(actors.pref13),
    )
    assert [c["id"] for c in listed.json()["items"]] == [committee_id]
    # R-COM-1: a cancellation is no close
    assert (await committees.status())["13"]["since"] is None
    # R-AUDIT-1: the cancellation is audited
    trail = await events(
        committees.client, committees.headers, actors.pref13, object_id=committee_id
    )
    assert [e["action"] for e in trail][-1] == "cancelled"


async def test_r_com_2_a_committee_with_a_decision_is_not_cancelled(
    committees: Committees, session: AsyncSession, marseille: Candidate
) -> None:
    pid = await dossier(session, marseille)
    committee_id = await committees.new()
    assert (await committees.agenda(committee_id, [pid])).status_code == 200
    assert (await committees.decide(committee_id, pid, "deferred")).status_code == 200
    body = problem(await committees.cancel(committee_id), 409, "R-COM-2")
    assert body["current_status"] == "in_session"
    assert (await committees.close(committee_id)).status_code == 200


# -- R-COM-2: agenda ---------------------------------------------------------------------------


async def test_r_com_2_agenda_ids_not_in_review_here_answer_422_the_same_for_each(
    committees: Committees, session: AsyncSession, marseille: Candidate, paris: Candidate
) -> None:
    """R-COM-2: another département's dossier, an unknown id, a dossier not in review: 422
    naming each item, with one and the same answer (existence does not leak)."""
    committee_id = await committees.new()
    next_door = await dossier(session, paris)
    unknown = uuid.uuid4()
    submitted = await dossier(session, marseille, status="submitted")
    body = problem(
        await committees.agenda(committee_id, [next_door, unknown, submitted]), 422, "R-COM-2"
    )
    assert [(e["field"], e["project_id"]) for e in body["errors"]] == [
        ("/add/0", str(next_door)),
        ("/add/1", str(unknown)),
        ("/add/2", str(submitted)),
    ]
    answers = {e["message"].replace(e["project_id"], "<id>") for e in body["errors"]}
    assert len(answers) == 1, answers
    assert (await committees.read(committee_id)).json()["agenda"] == []


# -- R-COM-2: a dossier leaves an open agenda --------------------------------------------------


async def _act(
    client: AsyncClient, headers: Headers, who: Any, pid: uuid.UUID, action: str, **json: str
) -> Response:
    read = await client.get(f"{PROJECTS}/{pid}", headers=headers(who))
    return await client.post(
        f"{PROJECTS}/{pid}/{action}",
        json=json or None,
        headers={**headers(who), "If-Match": read.headers["ETag"]},
    )


async def test_r_com_2_returned_withdrawn_closed_dossiers_leave_the_open_agenda(
    committees: Committees,
    client: AsyncClient,
    headers: Headers,
    session: AsyncSession,
    marseille: Candidate,
    actors: Actors,
    envelope_13: dict[str, Any],
) -> None:
    kept, returned, withdrawn, closed = [await dossier(session, marseille) for _ in range(4)]
    committee_id = await committees.new()
    assert (await committees.agenda(committee_id, [kept, returned, withdrawn, closed])).is_success
    # a decision already recorded on a dossier that then leaves is dropped with it
    assert (await committees.decide(committee_id, returned, "accepted", 500_000)).is_success
    etag = await committees.etag(committee_id)

    got = await _act(client, headers, actors.pref13, returned, "return", message="Complétez.")
    assert got.status_code == 200, got.text
    got = await _act(client, headers, actors.cand_a, withdrawn, "withdraw")
    assert got.status_code == 200, got.text
    got = await _act(client, headers, actors.pref13, closed, "close", reason="Abandonné.")
    assert got.status_code == 200, got.text

    read = await committees.read(committee_id)
    assert agenda_ids(read.json()) == [str(kept)]
    assert read.json()["agenda_count"] == 1
    assert read.headers["ETag"] != etag  # the agenda changed
    minutes = (await committees.minutes(committee_id)).json()
    left = {d["project_id"]: d["left_agenda"] for d in minutes["decisions"]}
    assert {pid: (v or {}).get("reason") for pid, v in left.items()} == {
        str(kept): None,
        str(returned): "returned",
        str(withdrawn): "withdrawn",
        str(closed): "closed",
    }
    by_id = {d["project_id"]: d for d in minutes["decisions"]}
    assert by_id[str(returned)]["decision"] is None
    assert minutes["accepted_cents"] == 0
    # the committee decides and closes on what is left
    problem(await committees.decide(committee_id, returned, "deferred"), 409, "R-COM-2")
    assert (await committees.decide(committee_id, kept, "accepted", 500_000)).is_success
    closed_committee = await committees.close(committee_id)
    assert closed_committee.status_code == 200, closed_committee.text
    assert agenda_ids(closed_committee.json()) == [str(kept)]

    # back in review, the returned dossier goes on another committee
    project = (
        await session.execute(select(Project).where(col(Project.id) == returned))
    ).scalar_one()
    project.status, project.submitted_at = "in_review", clock.now() + timedelta(seconds=1)
    await session.flush()
    later = await committees.new()
    assert agenda_ids((await committees.agenda(later, [returned])).json()) == [str(returned)]


async def test_r_com_2_a_returned_dossier_back_in_review_comes_back_on_the_same_agenda(
    committees: Committees,
    client: AsyncClient,
    headers: Headers,
    session: AsyncSession,
    marseille: Candidate,
    actors: Actors,
) -> None:
    pid = await dossier(session, marseille)
    committee_id = await committees.new()
    assert (await committees.agenda(committee_id, [pid])).is_success
    got = await _act(client, headers, actors.pref13, pid, "return", message="Complétez.")
    assert got.status_code == 200, got.text
    assert agenda_ids((await committees.read(committee_id)).json()) == []
    project = (await session.execute(select(Project).where(col(Project.id) == pid))).scalar_one()
    project.status = "in_review"
    await session.flush()
    again = await committees.agenda(committee_id, [pid])
    assert agenda_ids(again.json()) == [str(pid)]
    minutes = (await committees.minutes(committee_id)).json()
    assert minutes["decisions"][0]["left_agenda"] is None


# -- R-EVAL-2: the recused agent does not decide -----------------------------------------------


async def test_r_eval_2_a_recused_prefect_does_not_record_the_decision(
    committees: Committees,
    client: AsyncClient,
    headers: Headers,
    session: AsyncSession,
    marseille: Candidate,
    actors: Actors,
) -> None:
    pid = await dossier(session, marseille)
    await Evaluations(client, headers).evaluate(
        actors.pref13, pid, {"conflict_of_interest": True, "comments": "Mon frère y travaille."}
    )
    committee_id = await committees.new()
    assert (await committees.agenda(committee_id, [pid])).status_code == 200
    body = problem(await committees.decide(committee_id, pid, "deferred"), 403, "R-EVAL-2")
    assert "R-EVAL-2" in body["detail"]
    assert (await committees.read(committee_id)).json()["agenda"][0]["decision"] is None
    # another agent of the prefecture decides
    decided = await committees.decide(committee_id, pid, "deferred", who=PREF13_BIS)
    assert decided.status_code == 200, decided.text
    assert decided.json()["agenda"][0]["decision"]["outcome"] == "deferred"


async def test_r_com_2_a_committee_whose_decided_dossiers_all_left_can_be_cancelled(
    committees: Committees,
    client: AsyncClient,
    headers: Headers,
    session: AsyncSession,
    marseille: Candidate,
    actors: Actors,
) -> None:
    """R-COM-2, decided here where the spec is silent: in session, then its only decided dossier
    is returned; with no decision left it cannot be closed, so it can be cancelled."""
    pid = await dossier(session, marseille)
    committee_id = await committees.new()
    assert (await committees.agenda(committee_id, [pid])).is_success
    assert (await committees.decide(committee_id, pid, "deferred")).is_success
    got = await _act(client, headers, actors.pref13, pid, "return", message="Complétez.")
    assert got.status_code == 200, got.text
    problem(await committees.close(committee_id), 409, "R-COM-2")
    cancelled = await committees.cancel(committee_id)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
