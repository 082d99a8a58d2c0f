"""R-COM-1 through GET /committees/status: due at 10 dossiers submitted since the last closed
committee (withdrawn ones excluded), or a calendar month after that close (the first
submission, before any) with a dossier waiting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.candidates.models import Candidate
from app.committees.due import due_departements
from app.core import clock
from app.core.config import Settings
from app.programme.service import get_programme
from app.projects.models import Project
from tests.api.committees.driver import Committees
from tests.conftest import Actors
from tests.factories import make_candidate, make_project


async def submit(
    session: AsyncSession, candidate: Candidate, count: int, **extra: object
) -> list[Project]:
    values: dict[str, object] = {"status": "submitted", "submitted_at": clock.now()}
    values.update(extra)
    return [await make_project(session, candidate=candidate, **values) for _ in range(count)]


async def status(
    committees: Committees, session: AsyncSession, *, who: Principal | None = None
) -> dict[str, dict[str, Any]]:
    """R-COM-1 through the status route, checked against the dashboards' reading of it
    (`due_departements`, which counts the waiting dossiers only up to the threshold, issue 28):
    the same départements due."""
    rows = await committees.status(who=who)
    programme = await get_programme(session, Settings.model_fields["programme_code"].default)
    principal = who or committees.actors.pref13
    due = await due_departements(session, principal, programme=programme)
    assert sorted(due) == sorted(dep for dep, row in rows.items() if row["due"])
    return rows


async def test_r_com_1_ten_submissions_make_the_committee_due(
    committees: Committees,
    session: AsyncSession,
    actors: Actors,
    marseille: Candidate,
    paris: Candidate,
) -> None:
    await submit(session, marseille, 9)
    await submit(session, marseille, 3, status="withdrawn")  # withdrawn ones do not count
    await submit(session, paris, 5)  # next door does not count
    row = (await status(committees, session))["13"]
    assert (row["due"], row["reason"], row["submitted_since_last"], row["since"]) == (
        False,
        None,
        9,
        None,
    )
    assert row["threshold"] == 10

    await submit(session, marseille, 1)
    row = (await status(committees, session))["13"]
    assert (row["due"], row["reason"], row["submitted_since_last"]) == (True, "threshold", 10)
    # the prefect sees its own département only; DINUM every one with a submission
    assert set(await status(committees, session)) == {"13"}
    national = await status(committees, session, who=actors.dinum)
    assert {"13", "75"} <= set(national)
    assert (national["75"]["submitted_since_last"], national["75"]["due"]) == (5, False)


async def test_r_com_1_a_month_after_the_first_submission_with_one_waiting(
    committees: Committees,
    session: AsyncSession,
    marseille: Candidate,
    clock_at: Callable[[str], object],
) -> None:
    await submit(session, marseille, 1)  # on 2021-02-15 (the suite's clock)
    clock_at("2021-03-14")
    row = (await status(committees, session))["13"]
    assert (row["due"], row["submitted_since_last"], row["waiting"]) == (False, 1, 1)
    clock_at("2021-03-15")
    row = (await status(committees, session))["13"]
    assert (row["due"], row["reason"]) == (True, "month")


async def test_r_com_1_the_count_restarts_after_a_close(
    committees: Committees,
    session: AsyncSession,
    marseille: Candidate,
    clock_at: Callable[[str], object],
) -> None:
    waiting = await make_project(
        session, candidate=marseille, status="in_review", submitted_at=clock.now()
    )
    await submit(session, marseille, 10)
    assert (await status(committees, session))["13"]["reason"] == "threshold"

    committee_id = await committees.new()
    assert (await committees.agenda(committee_id, [waiting.id])).status_code == 200
    assert (await committees.decide(committee_id, waiting.id, "deferred")).status_code == 200
    closed = await committees.close(committee_id)
    assert closed.status_code == 200, closed.text

    row = (await status(committees, session))["13"]
    assert (row["due"], row["submitted_since_last"]) == (False, 0)
    assert row["since"] == closed.json()["closed_at"]
    await submit(session, marseille, 1)
    assert (await status(committees, session))["13"]["submitted_since_last"] == 1
    # a calendar month after the close, with dossiers waiting: due again
    clock_at("2021-03-16")
    row = (await status(committees, session))["13"]
    assert (row["due"], row["reason"]) == (True, "month")


async def test_r_com_1_dinum_sees_every_departement_with_a_submission_even_none_waiting(
    committees: Committees, session: AsyncSession, actors: Actors, marseille: Candidate
) -> None:
    """R-COM-1's scope for DINUM: the départements with an envelope or a submitted dossier,
    waiting or not (issue 28 reads the waiting ones from their own index and finds the others
    département by département); one with drafts only, never submitted, is not listed."""
    syndicats = {
        dep: await make_candidate(session, siren=siren, departement=dep)
        for dep, siren in (("01", "200000001"), ("2A", "200000002"), ("974", "200000003"))
    }
    await submit(session, marseille, 2)
    await submit(session, syndicats["01"], 1, status="withdrawn")
    # returned for completion: a draft again, its submission kept
    await submit(session, syndicats["2A"], 1, status="draft", returned_at=clock.now())
    await make_project(session, candidate=syndicats["974"], status="draft")
    await make_project(session, candidate=syndicats["974"], status="draft")

    national = await status(committees, session, who=actors.dinum)
    assert set(national) == {"01", "13", "2A"}
    for dep in ("01", "2A"):
        row = national[dep]
        assert (row["due"], row["waiting"], row["submitted_since_last"], row["since"]) == (
            False,
            0,
            0,
            None,
        )
        assert row["first_submitted_at"] is None
    assert (national["13"]["waiting"], national["13"]["submitted_since_last"]) == (2, 2)
