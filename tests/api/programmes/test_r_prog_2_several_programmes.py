"""R-PROG-2: several programmes run at once. Every route names its programme (`programme`,
the service's default one when none is named: existing clients see what they saw); envelopes,
dossiers, committees, dashboards and the SCDL export are one programme's, or every programme's
where a route reads across (`programme=*`)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from app.core.clock import Clock
from app.programme.models import Programme
from tests.api.budgets.driver import PREFECTURES, Money
from tests.api.committees.driver import Committees
from tests.api.programmes.conftest import FITN7, NT, dossier_body
from tests.conftest import Actors
from tests.factories import make_project

pytestmark = pytest.mark.usefixtures("marseille")

PROJECTS = "/api/v1/projects"
ENVELOPES = "/api/v1/envelopes"


def problem(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


async def allocate(
    client: AsyncClient, headers: Any, actors: Actors, amount: int, programme: str | None
) -> Response:
    params = {} if programme is None else {"programme": programme}
    body = {"kind": "allocation", "amount_cents": amount, "reference": f"Arrêté {amount}"}
    return await client.post(
        f"{ENVELOPES}/13/allocations",
        params=params,
        json={**body, **PREFECTURES["13"]},
        headers=headers(actors.dinum),
    )


async def test_an_unknown_programme_is_a_404_naming_r_prog_2(
    client: AsyncClient, headers: Any, actors: Actors
) -> None:
    dinum = headers(actors.dinum)
    for url in (
        f"{PROJECTS}?programme=NOPE-2030",
        f"{ENVELOPES}?programme=NOPE-2030",
        f"{ENVELOPES}/13?programme=NOPE-2030",
        f"{ENVELOPES}/13/ledger?programme=NOPE-2030",
        "/api/v1/committees?programme=NOPE-2030",
        "/api/v1/committees/status?programme=NOPE-2030",
        "/api/v1/stats/national?programme=NOPE-2030",
        "/api/v1/stats/departements?programme=NOPE-2030",
    ):
        body = problem(await client.get(url, headers=dinum), 404, "R-PROG-2")
        assert "NOPE-2030" in body["detail"], url
    for url in ("/api/v1/open-data/subventions.csv", "/api/v1/open-data/subventions.json"):
        problem(await client.get(url, params={"programme": "NOPE-2030"}), 404, "R-PROG-2")
    # `*` reads across programmes where a route does, never where it names one programme
    response = await client.get(f"{PROJECTS}?programme=*", headers=dinum)
    assert response.status_code == 422, response.text


async def test_one_departement_has_an_envelope_per_programme(
    client: AsyncClient, headers: Any, actors: Actors
) -> None:
    assert (await allocate(client, headers, actors, 10_000_000, None)).status_code == 201
    created = await allocate(client, headers, actors, 3_000_000, NT)
    assert created.status_code == 201, created.text
    assert created.json()["envelope"]["programme"] == NT
    # the same allocation again on NT: its own envelope grows, the default's does not move
    assert (await allocate(client, headers, actors, 500_000, NT)).status_code == 201
    h = headers(actors.pref13)
    default = (await client.get(f"{ENVELOPES}/13", headers=h)).json()
    named = (await client.get(f"{ENVELOPES}/13", params={"programme": FITN7}, headers=h)).json()
    nt = (await client.get(f"{ENVELOPES}/13", params={"programme": NT}, headers=h)).json()
    assert default == named
    assert (default["programme"], default["allocated_cents"]) == (FITN7, 10_000_000)
    assert (nt["programme"], nt["allocated_cents"]) == (NT, 3_500_000)
    assert nt["id"] != default["id"]
    ledgers = {
        code: (
            await client.get(f"{ENVELOPES}/13/ledger", params={"programme": code}, headers=h)
        ).json()["items"]
        for code in (FITN7, NT)
    }
    assert [m["allocated_delta_cents"] for m in ledgers[FITN7]] == [10_000_000]
    assert [m["allocated_delta_cents"] for m in ledgers[NT]] == [3_000_000, 500_000]
    listed = {
        code: (await client.get(ENVELOPES, params={"programme": code}, headers=h)).json()["items"]
        for code in (FITN7, NT)
    }
    assert [(e["programme"], e["allocated_cents"]) for e in listed[NT]] == [(NT, 3_500_000)]
    assert [(e["programme"], e["allocated_cents"]) for e in listed[FITN7]] == [(FITN7, 10_000_000)]


async def test_a_dossier_filed_on_nt2026_is_listed_under_it_only(
    client: AsyncClient, headers: Any, actors: Actors, in_2026: Clock
) -> None:
    cand = headers(actors.cand_a)
    created = await client.post(PROJECTS, json=dossier_body(programme=NT), headers=cand)
    assert created.status_code == 201, created.text
    assert (created.json()["programme"], created.json()["strand"]) == (NT, "socle")
    default = await client.post(PROJECTS, json=dossier_body(strand="3c"), headers=cand)
    assert default.status_code == 201, default.text
    assert default.json()["programme"] == FITN7  # no programme named: the default one
    nt_id, fitn7_id = created.json()["id"], default.json()["id"]
    for who in (actors.cand_a, actors.pref13, actors.dinum):
        h = headers(who)
        under_nt = (await client.get(PROJECTS, params={"programme": NT}, headers=h)).json()
        under_default = (await client.get(PROJECTS, headers=h)).json()
        assert [(p["id"], p["programme"]) for p in under_nt["items"]] == [(nt_id, NT)]
        assert [(p["id"], p["programme"]) for p in under_default["items"]] == [(fitn7_id, FITN7)]
        read = await client.get(f"{PROJECTS}/{nt_id}", headers=h)
        assert read.json()["programme"] == NT
    # R-ACL-1 stays as it is: another département's prefect sees neither
    pref75 = headers(actors.pref75)
    assert (await client.get(PROJECTS, params={"programme": NT}, headers=pref75)).json()[
        "items"
    ] == []


@pytest.mark.parametrize(
    ("status", "word", "bump"), [("draft", "brouillon", 11), ("closed", "est clos", 12)]
)
async def test_no_dossier_is_filed_on_a_draft_or_closed_programme(
    client: AsyncClient,
    session: AsyncSession,
    headers: Any,
    actors: Actors,
    in_2026: Clock,
    status: str,
    word: str,
    bump: int,
) -> None:
    # an edit by another instance: the cached programme follows its version (each case its
    # own version: the suite rolls every test back, versions never go back in service)
    await session.execute(
        text("UPDATE programme SET status = :s, version = version + :b WHERE code = :c"),
        {"s": status, "b": bump, "c": NT},
    )
    await session.commit()
    response = await client.post(
        PROJECTS, json=dossier_body(programme=NT), headers=headers(actors.cand_a)
    )
    body = problem(response, 422, "R-PROG-1")
    assert word in body["detail"]
    assert [(e["code"], e["field"]) for e in body["errors"]] == [("R-PROG-1", "/programme")]
    unknown = await client.post(
        PROJECTS, json=dossier_body(programme="NOPE-2030"), headers=headers(actors.cand_a)
    )
    body = problem(unknown, 422, "R-PROG-2")
    assert [(e["code"], e["field"]) for e in body["errors"]] == [("R-PROG-2", "/programme")]
    listed = await client.get(PROJECTS, params={"programme": NT}, headers=headers(actors.dinum))
    assert listed.json()["items"] == []  # a closed programme stays readable


async def test_a_committee_on_nt2026_takes_only_its_programmes_dossiers(
    client: AsyncClient,
    session: AsyncSession,
    headers: Any,
    actors: Actors,
    committees: Committees,
    marseille: Candidate,
    nt2026: Programme,
    in_2026: Clock,
) -> None:
    theirs = await make_project(
        session, candidate=marseille, status="in_review", programme_id=nt2026.id, strand="socle"
    )
    other = await make_project(session, candidate=marseille, status="in_review")
    await session.commit()
    created = await committees.create(programme=NT)
    assert created.status_code == 201, created.text
    assert created.json()["programme"] == NT
    committee_id = created.json()["id"]
    refused = await committees.agenda(committee_id, add=[theirs.id, other.id])
    body = problem(refused, 422, "R-PROG-2")
    assert [(e["code"], e["project_id"]) for e in body["errors"]] == [("R-PROG-2", str(other.id))]
    added = await committees.agenda(committee_id, add=[theirs.id])
    assert added.status_code == 200, added.text
    assert [(i["project_id"], i["strand"]) for i in added.json()["agenda"]] == [
        (str(theirs.id), "socle")
    ]
    h = headers(actors.pref13)
    nt_list = await client.get("/api/v1/committees", params={"programme": NT}, headers=h)
    default_list = await client.get("/api/v1/committees", headers=h)
    assert [(c["id"], c["programme"]) for c in nt_list.json()["items"]] == [(committee_id, NT)]
    assert default_list.json()["items"] == []
    # the committee's dates are its own programme's (R-COM-2): FITN7's results deadline has
    # passed in 2026, NT2026's has not
    fitn7 = await committees.create(meeting_on="2026-03-02", programme=FITN7)
    problem(fitn7, 422, "R-COM-2")
    unknown = await committees.create(programme="NOPE-2030")
    problem(unknown, 422, "R-PROG-2")


async def test_committee_due_status_is_per_programme(
    client: AsyncClient,
    session: AsyncSession,
    headers: Any,
    actors: Actors,
    marseille: Candidate,
    nt2026: Programme,
    in_2026: Clock,
) -> None:
    """R-COM-1 read per programme: NT2026's threshold is 5 submitted dossiers."""
    for _ in range(5):
        await make_project(
            session,
            candidate=marseille,
            status="submitted",
            programme_id=nt2026.id,
            strand="socle",
            submitted_at=in_2026.now(),
        )
    await session.commit()
    h = headers(actors.pref13)
    nt = await client.get("/api/v1/committees/status", params={"programme": NT}, headers=h)
    default = await client.get("/api/v1/committees/status", headers=h)
    [nt_13] = nt.json()["items"]
    assert (nt_13["departement"], nt_13["due"], nt_13["waiting"], nt_13["threshold"]) == (
        "13",
        True,
        5,
        5,
    )
    assert all(item["waiting"] == 0 for item in default.json()["items"])


async def _national(client: AsyncClient, h: dict[str, str], programme: str | None) -> Any:
    params = {} if programme is None else {"programme": programme}
    response = await client.get("/api/v1/stats/national", params=params, headers=h)
    assert response.status_code == 200, response.text
    return response.json()


async def test_dashboards_per_programme_add_up_across(
    client: AsyncClient, headers: Any, actors: Actors, in_2026: Clock
) -> None:
    assert (await allocate(client, headers, actors, 10_000_000, None)).status_code == 201
    assert (await allocate(client, headers, actors, 4_000_000, NT)).status_code == 201
    cand = headers(actors.cand_a)
    for body in (
        dossier_body(programme=NT),
        dossier_body(programme=NT, strand="services"),
        dossier_body(strand="3c"),
    ):
        assert (await client.post(PROJECTS, json=body, headers=cand)).status_code == 201
    h = headers(actors.dinum)
    default, fitn7 = await _national(client, h, None), await _national(client, h, FITN7)
    nt, every = await _national(client, h, NT), await _national(client, h, "*")
    assert default == fitn7
    assert (fitn7["allocated_cents"], nt["allocated_cents"], every["allocated_cents"]) == (
        10_000_000,
        4_000_000,
        14_000_000,
    )

    def drafts(figures: Any) -> int:
        return next(s["projects"] for s in figures["projects_by_status"] if s["status"] == "draft")

    assert (drafts(fitn7), drafts(nt), drafts(every)) == (1, 2, 3)
    assert [(s["strand"], s["projects"]) for s in nt["by_strand"]] == [
        ("socle", 1),
        ("services", 1),
    ]
    assert [s["strand"] for s in fitn7["by_strand"]] == ["3a", "3b", "3c"]
    assert {s["strand"]: s["projects"] for s in every["by_strand"]} == {
        "3a": 0,
        "3b": 0,
        "3c": 1,
        "socle": 1,
        "services": 1,
    }
    departements = await client.get(
        "/api/v1/stats/departements", params={"programme": "*"}, headers=headers(actors.pref13)
    )
    [mine] = departements.json()["items"]
    assert (mine["departement"], mine["allocated_cents"]) == ("13", 14_000_000)
    per_programme = [
        (
            await client.get(
                "/api/v1/stats/departements",
                params={"programme": code},
                headers=headers(actors.pref13),
            )
        ).json()["items"][0]["allocated_cents"]
        for code in (FITN7, NT)
    ]
    assert per_programme == [10_000_000, 4_000_000]


async def _export(client: AsyncClient, programme: str | None) -> list[dict[str, Any]]:
    params = {} if programme is None else {"programme": programme}
    response = await client.get("/api/v1/open-data/subventions.json", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_the_scdl_export_per_programme_and_across(
    client: AsyncClient, under_convention: uuid.UUID, money: Money
) -> None:
    """The default stays every programme (harvesters written before get the same rows)."""
    every, fitn7 = await _export(client, None), await _export(client, FITN7)
    assert len(every) == 1 and every == fitn7 == await _export(client, "*")
    assert await _export(client, NT) == []
    csv = await client.get("/api/v1/open-data/subventions.csv", params={"programme": NT})
    assert csv.status_code == 200 and len(csv.text.strip().splitlines()) == 1  # the header
    # validators differ per programme: a harvester of one never gets a 304 for the other
    etags = {
        code: (
            await client.get("/api/v1/open-data/subventions.csv", params={"programme": code})
        ).headers["ETag"]
        for code in (FITN7, NT, "*")
    }
    assert len(set(etags.values())) == 3
