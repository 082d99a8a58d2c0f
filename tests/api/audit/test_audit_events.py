"""R-AUDIT-1 through the API: one event per change in the change's transaction, the hash
chain and its verification (tampering named by sequence), who reads what, the sync feed."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.openapi_export import CONTRACT_PATH
from tests.api.budgets.driver import ENVELOPES, PREFECTURES, Money
from tests.conftest import MARSEILLE_SIREN, Actors
from tests.factories import make_candidate, make_project

AUDIT = "/api/v1/audit-events"
VERIFY = f"{AUDIT}/verify"


@pytest.fixture
def money(client: AsyncClient, session: AsyncSession, headers, actors: Actors) -> Money:  # type: ignore[no-untyped-def]
    return Money(client, session, headers, actors)


async def events(
    client: AsyncClient, headers: Any, who: Any, **params: Any
) -> list[dict[str, Any]]:
    """Every event the caller may read, following `next_cursor`."""
    found: list[dict[str, Any]] = []
    params = {"limit": 200, **params}
    while True:
        response = await client.get(AUDIT, params=params, headers=headers(who))
        assert response.status_code == 200, response.text
        page = response.json()
        found += page["items"]
        if not page.get("next_cursor"):
            return found
        params["cursor"] = page["next_cursor"]


async def verify(client: AsyncClient, headers: Any, actors: Actors) -> dict[str, Any]:
    response = await client.get(VERIFY, headers=headers(actors.dinum))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_r_audit_1_an_allocation_writes_one_chained_event(
    money: Money, client: AsyncClient, headers: Any, actors: Actors
) -> None:
    assert (await money.allocate("13", 10_000_000)).status_code == 201
    assert (await money.allocate("13", 500_000, kind="top_up")).status_code == 201
    opened, first, second = await events(client, headers, actors.dinum)
    assert (opened["object"]["type"], opened["action"]) == ("envelope", "created")
    assert opened["before"] is None
    assert opened["after"]["prefecture_siret"] == PREFECTURES["13"]["prefecture_siret"]
    assert first["object"]["id"] == opened["object"]["id"]
    assert first["object"]["type"] == "envelope"
    assert first["object"]["departement"] == "13"
    assert first["action"] == "allocation"
    assert first["actor"] == {"subject": "agent-dinum", "role": "dinum", "scope": None}
    assert first["before"]["allocated_cents"] == 0
    assert first["after"]["allocated_cents"] == 10_000_000
    assert "committed_cents" not in first["after"]  # only the fields that changed
    assert (second["action"], second["after"]["allocated_cents"]) == ("adjustment", 10_500_000)
    assert second["seq"] == first["seq"] + 1
    assert second["prev_hash"] == first["hash"]
    report = await verify(client, headers, actors)
    assert report["valid"] is True
    assert report["broken"] is None
    assert report["verified_up_to"] == report["head_seq"] == second["seq"]


async def test_r_audit_1_verify_on_an_empty_chain_holds_up_to_zero(
    client: AsyncClient, headers: Any, actors: Actors
) -> None:
    report = await verify(client, headers, actors)
    assert report == {
        "valid": True,
        "verified_up_to": 0,
        "events_checked": 0,
        "head_seq": 0,
        "broken": None,
        "checkpoint": None,
    }


async def _three_events(
    money: Money, client: AsyncClient, headers: Any, actors: Actors
) -> list[dict[str, Any]]:
    assert (await money.allocate("13", 10_000_000)).status_code == 201
    assert (await money.allocate("75", 5_000_000)).status_code == 201
    assert (await money.allocate("13", 100, kind="top_up")).status_code == 201
    found = await events(client, headers, actors.dinum)
    assert [e["action"] for e in found] == [
        "created",
        "allocation",
        "created",
        "allocation",
        "adjustment",
    ]
    return found[-3:]  # three consecutive events: the 75's opening and allocation, a top-up


async def test_r_audit_1_editing_one_row_in_the_database_is_named_by_verify(
    money: Money, client: AsyncClient, headers: Any, actors: Actors, session: AsyncSession
) -> None:
    _first, middle, _last = await _three_events(money, client, headers, actors)
    # Someone with database access rewrites history: 5 M€ become 50 M€, hashes untouched.
    await session.execute(
        text('UPDATE audit_event SET "after" = :after WHERE seq = :seq'),
        {"after": '{"allocated_cents": 50000000}', "seq": middle["seq"]},
    )
    await session.commit()
    report = await verify(client, headers, actors)
    assert report["valid"] is False
    assert report["verified_up_to"] == middle["seq"] - 1
    broken = report["broken"]
    assert broken["seq"] == middle["seq"]
    assert broken["field"] == "hash"
    assert broken["found"] == middle["hash"]
    assert broken["expected"] != middle["hash"]


async def test_r_audit_1_a_recomputed_hash_still_breaks_the_next_link(
    money: Money, client: AsyncClient, headers: Any, actors: Actors, session: AsyncSession
) -> None:
    first, middle, _last = await _three_events(money, client, headers, actors)
    # A smarter forger also rewrites the row's hash: the next event no longer cites it.
    await session.execute(
        text("UPDATE audit_event SET hash = :forged WHERE seq = :seq"),
        {"forged": "f" * 64, "seq": first["seq"]},
    )
    await session.commit()
    broken = (await verify(client, headers, actors))["broken"]
    assert broken["seq"] == first["seq"]  # its own content no longer matches the forged hash
    assert broken["field"] == "hash"


async def test_r_audit_1_a_deleted_event_and_a_cut_tail_are_named(
    money: Money, client: AsyncClient, headers: Any, actors: Actors, session: AsyncSession
) -> None:
    _first, middle, last = await _three_events(money, client, headers, actors)
    await session.execute(text("DELETE FROM audit_event WHERE seq = :seq"), {"seq": middle["seq"]})
    await session.commit()
    broken = (await verify(client, headers, actors))["broken"]
    assert (broken["seq"], broken["field"]) == (last["seq"], "seq")
    assert broken["expected"] == str(middle["seq"])

    await session.execute(text("DELETE FROM audit_event WHERE seq = :seq"), {"seq": last["seq"]})
    await session.commit()
    report = await verify(client, headers, actors)
    assert report["verified_up_to"] == middle["seq"] - 1
    assert report["broken"]["field"] == "head"  # the head still names the removed events
    assert report["head_seq"] == last["seq"]


async def test_r_audit_1_a_rolled_back_change_leaves_no_event(
    client: AsyncClient, headers: Any, actors: Actors, session: AsyncSession
) -> None:
    recorded = await audit.record(
        session,
        actors.dinum,
        object_type="envelope",
        object_id=uuid.uuid4(),
        departement="13",
        action="allocation",
        after={"allocated_cents": 1},
    )
    assert recorded
    await session.rollback()
    await session.commit()
    assert await events(client, headers, actors.dinum) == []
    assert (await verify(client, headers, actors))["head_seq"] == 0


async def test_r_audit_1_a_refused_request_leaves_no_event(
    money: Money, client: AsyncClient, headers: Any, actors: Actors
) -> None:
    # The reduction below what is committed is refused (409) after nothing moved; the transfer
    # to a département without an envelope fails after the source's check: no event either.
    assert (await money.allocate("13", 1_000)).status_code == 201
    refused = await money.allocate("13", 5_000, kind="reduction")
    assert refused.status_code == 409
    missing = await money.allocate("13", 10, kind="transfer", to_departement="75")
    assert missing.status_code == 404
    assert [e["action"] for e in await events(client, headers, actors.dinum)] == [
        "created",
        "allocation",
    ]


async def test_r_audit_1_grant_lifecycle_events(
    money: Money, client: AsyncClient, headers: Any, actors: Actors, session: AsyncSession
) -> None:
    assert (await money.allocate("13", 10_000_000)).status_code == 201
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    project = await make_project(session, candidate=marseille, status="in_review")
    await money.commit(project.id, 1_000_000)
    convention = await money.convention(project.id)
    assert convention.status_code == 200, convention.text
    payment = await money.pay(project.id, "advance", 300_000)
    assert payment.status_code == 201, payment.text
    about_project = await events(client, headers, actors.dinum, object_id=str(project.id))
    transitions = [(e["before"]["status"], e["after"]["status"]) for e in about_project]
    assert transitions == [("in_review", "accepted"), ("accepted", "under_convention")]
    assert {e["action"] for e in about_project} == {"status_changed"}
    kinds = [
        (e["object"]["type"], e["action"]) for e in await events(client, headers, actors.dinum)
    ]
    assert kinds == [
        ("envelope", "created"),
        ("envelope", "allocation"),
        ("envelope", "commitment"),
        ("project", "status_changed"),
        ("grant", "committed"),
        ("document", "uploaded"),  # the signed convention (R-DOC-1), filed before signing
        ("project", "status_changed"),
        ("convention", "signed"),
        ("envelope", "payment"),
        ("payment", "recorded"),
    ]
    assert (await verify(client, headers, actors))["valid"] is True


async def test_r_audit_1_candidate_programme_forfaits_and_draft_edits_are_audited(
    client: AsyncClient, headers: Any, actors: Actors, session: AsyncSession
) -> None:
    syndicat = await make_candidate(session, siren="251302140", kind="syndicat")  # to_verify
    project = await make_project(
        session, candidate=await make_candidate(session, siren=MARSEILLE_SIREN)
    )
    await session.commit()
    verified = await client.post(
        f"/api/v1/candidates/{syndicat.id}/verify",
        json={"decision": "verified"},
        headers={**headers(actors.pref13), "If-Match": '"v1"'},
    )
    assert verified.status_code == 200, verified.text
    edited = await client.patch(
        f"/api/v1/projects/{project.id}",
        json={"title": "Rendez-vous en ligne"},
        headers={**headers(actors.cand_a), "If-Match": '"v1"'},
    )
    assert edited.status_code == 200, edited.text
    etag = (await client.get("/api/v1/programme", headers=headers(actors.dinum))).headers["ETag"]
    patched = await client.patch(
        "/api/v1/programme",
        json={"committee_filing_threshold": 9},
        headers={**headers(actors.dinum), "If-Match": etag},
    )
    assert patched.status_code == 200, patched.text
    schedule = await client.get(f"{ENVELOPES}/13/forfaits", headers=headers(actors.pref13))
    assert schedule.status_code == 200, schedule.text
    put = await client.put(
        f"{ENVELOPES}/13/forfaits",
        json={"tiers": schedule.json()["tiers"]},
        headers={**headers(actors.pref13), "If-Match": '"v0"'},
    )
    assert put.status_code == 200, put.text
    found = await events(client, headers, actors.dinum)
    by_type = {e["object"]["type"]: e for e in found}
    assert [e["object"]["type"] for e in found] == ["candidate", "project", "programme", "forfaits"]
    candidate_event = by_type["candidate"]
    assert candidate_event["action"] == "verification_decided"
    assert candidate_event["before"]["verification"] == "to_verify"
    assert candidate_event["after"]["verification"] == "verified"
    assert candidate_event["actor"] == {"subject": "prefet-13", "role": "prefect", "scope": "13"}
    assert by_type["project"]["before"] == {"title": "Prise de rendez-vous en ligne"}
    assert by_type["project"]["after"] == {"title": "Rendez-vous en ligne"}
    assert by_type["project"]["actor"]["scope"] == MARSEILLE_SIREN
    assert by_type["programme"]["object"]["departement"] is None
    assert by_type["programme"]["after"] == {"committee_filing_threshold": 9}
    assert by_type["forfaits"]["action"] == "created"
    assert (await verify(client, headers, actors))["valid"] is True


# -- who reads what --------------------------------------------------------------------------


async def test_r_audit_1_a_prefect_reads_only_its_departement(
    money: Money, client: AsyncClient, headers: Any, actors: Actors
) -> None:
    await _three_events(money, client, headers, actors)
    mine = await events(client, headers, actors.pref13)
    assert len(mine) == 3
    assert {e["object"]["departement"] for e in mine} == {"13"}
    assert {e["object"]["departement"] for e in await events(client, headers, actors.pref75)} == {
        "75"
    }


@pytest.mark.parametrize("who", ["cand_a", "anct"])
async def test_r_audit_1_candidates_and_anct_are_refused(
    client: AsyncClient, headers: Any, actors: Actors, who: str
) -> None:
    response = await client.get(AUDIT, headers=headers(getattr(actors, who)))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden-role"


@pytest.mark.parametrize("who", ["pref13", "cand_a", "anct"])
async def test_r_audit_1_only_dinum_verifies(
    client: AsyncClient, headers: Any, actors: Actors, who: str
) -> None:
    response = await client.get(VERIFY, headers=headers(getattr(actors, who)))
    assert response.status_code == 403


# -- filters and the sync feed ---------------------------------------------------------------


async def test_r_audit_1_filters_and_the_after_cursor(
    money: Money, client: AsyncClient, headers: Any, actors: Actors
) -> None:
    first, second, third = await _three_events(money, client, headers, actors)
    dinum = actors.dinum
    assert await events(client, headers, dinum, action="adjustment") == [third]
    assert await events(client, headers, dinum, object_id=second["object"]["id"]) == [
        first,
        second,
    ]
    assert await events(client, headers, dinum, object_type="project") == []
    assert await events(client, headers, dinum, actor="someone-else") == []
    assert len(await events(client, headers, dinum, actor="agent-dinum")) == 5
    assert await events(client, headers, dinum, after=first["seq"]) == [second, third]
    assert await events(client, headers, dinum, updated_since=second["at"]) == [second, third]
    assert await events(client, headers, dinum, **{"from": second["at"], "to": second["at"]}) == [
        second
    ]
    page = await client.get(
        AUDIT, params={"limit": 2, "after": first["seq"] - 1}, headers=headers(dinum)
    )
    body = page.json()
    assert body["items"] == [first, second]
    assert body["next_cursor"] == f"audit.{second['seq']}"
    rest = await client.get(AUDIT, params={"cursor": body["next_cursor"]}, headers=headers(dinum))
    assert rest.json() == {"items": [third], "next_cursor": None}


def test_contract_states_that_updated_since_may_miss_what_the_feed_does_not() -> None:
    contract = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))
    description = contract["paths"]["/api/v1/audit-events"]["get"]["description"]
    assert "updated_since" in description and "after=" in description
