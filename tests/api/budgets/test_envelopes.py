"""/envelopes through the API: who allocates, top-ups, reductions and transfers (R-CAP-4), who
reads what (R-ACL-1), the ledger (figures = sums of its deltas) and Idempotency-Key."""

from __future__ import annotations

import uuid

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, Role
from app.candidates.models import Candidate
from app.core import clock
from tests.api.budgets.conftest import ENVELOPE_13, GRANT
from tests.api.budgets.driver import (
    ENVELOPES,
    PREFECTURES,
    Money,
    count,
    figures,
    ledger_sums,
    problem,
    sql_envelope_and_ledger,
)
from tests.conftest import Actors
from tests.factories import make_project

ENVELOPE_75 = 5_000_000


async def envelopes_in_db(session: AsyncSession) -> int:
    return await count(session, "SELECT COUNT(*) FROM envelope")


async def movements_in_db(session: AsyncSession) -> int:
    return await count(session, "SELECT COUNT(*) FROM ledger_movement")


# -- who allocates ---------------------------------------------------------------------------


async def test_dinum_first_allocation_creates_the_envelope_with_its_prefecture(
    money: Money, actors: Actors
) -> None:
    response = await money.allocate("13", ENVELOPE_13, reference="Arrêté de délégation n° 1")
    assert response.status_code == 201, response.text
    body = response.json()
    envelope = body["envelope"]
    assert envelope["departement"] == "13"
    assert envelope["prefecture_name"] == PREFECTURES["13"]["prefecture_name"]
    assert envelope["prefecture_siret"] == PREFECTURES["13"]["prefecture_siret"]
    assert figures(envelope) == (ENVELOPE_13, 0, 0, ENVELOPE_13)
    assert envelope["use_rate_bps"] == 0
    [movement] = body["movements"]
    assert movement["kind"] == "allocation"
    assert movement["allocated_delta_cents"] == ENVELOPE_13
    assert (movement["actor"], movement["actor_role"]) == ("agent-dinum", "dinum")
    assert movement["reference"] == "Arrêté de délégation n° 1"
    assert await money.envelope("13") == envelope


@pytest.mark.parametrize("who", ["pref13", "anct", "cand_a"])
async def test_only_dinum_allocates_other_roles_get_403_and_nothing_is_created(
    money: Money, actors: Actors, session: AsyncSession, who: str
) -> None:
    response = await money.allocate("13", ENVELOPE_13, who=getattr(actors, who))
    problem(response, 403, "forbidden-role")
    assert await envelopes_in_db(session) == 0
    assert await movements_in_db(session) == 0


async def test_anonymous_allocation_is_401(money: Money, session: AsyncSession) -> None:
    response = await money.allocate("13", ENVELOPE_13, who=None)
    problem(response, 401, "R-AUTH-1")
    assert await envelopes_in_db(session) == 0


@pytest.mark.parametrize(
    "missing",
    [["prefecture_name"], ["prefecture_siret"], ["prefecture_name", "prefecture_siret"]],
)
async def test_first_allocation_without_prefecture_fields_is_422(
    money: Money, session: AsyncSession, missing: list[str]
) -> None:
    given = {k: v for k, v in PREFECTURES["13"].items() if k not in missing}
    response = await money.allocate("13", ENVELOPE_13, prefecture=False, **given)
    problem(response, 422, "prefecture-required")
    assert await envelopes_in_db(session) == 0
    assert await movements_in_db(session) == 0


async def test_first_allocation_with_an_invalid_prefecture_siret_is_422(
    money: Money, session: AsyncSession
) -> None:
    response = await money.allocate(
        "13",
        ENVELOPE_13,
        prefecture=False,
        prefecture_name="Préfecture",
        prefecture_siret="13002526500014",  # 14 digits, wrong Luhn key
    )
    body = problem(response, 422, "R-ELIG-2")
    assert [(e["code"], e["field"]) for e in body["errors"]] == [("R-ELIG-2", "/prefecture_siret")]
    assert await envelopes_in_db(session) == 0
    assert await movements_in_db(session) == 0


async def test_allocation_to_a_code_that_is_no_departement_is_422(
    money: Money, session: AsyncSession
) -> None:
    # "20" has not been a département since 1976 (2A, 2B): the path's pattern lists the COG
    # codes of the reference data, so it is refused before anything is looked up.
    response = await money.allocate("20", ENVELOPE_13, prefecture=False, **PREFECTURES["13"])
    body = problem(response, 422, "validation-error")
    assert [(e["in"], e["field"]) for e in body["errors"]] == [("path", "departement")]
    assert await envelopes_in_db(session) == 0


@pytest.mark.parametrize("kind", ["reduction", "transfer"])
async def test_reduction_or_transfer_of_an_envelope_that_does_not_exist_is_404(
    money: Money, session: AsyncSession, kind: str
) -> None:
    extra = {"to_departement": "75"} if kind == "transfer" else {}
    problem(await money.allocate("13", 100, kind=kind, **extra), 404, "envelope-not-found")
    assert await envelopes_in_db(session) == 0


# -- top-up, reduction, transfer (R-CAP-4) -------------------------------------------------


async def test_top_up_and_reduction_adjust_the_allocation(money: Money, envelope_13: dict) -> None:
    topped = await money.allocate("13", 2_000_000, kind="top_up", reference="Abondement")
    assert topped.status_code == 201, topped.text
    assert figures(topped.json()["envelope"]) == (12_000_000, 0, 0, 12_000_000)
    assert topped.json()["movements"][0]["kind"] == "adjustment"
    assert topped.json()["movements"][0]["allocated_delta_cents"] == 2_000_000

    reduced = await money.allocate("13", 5_000_000, kind="reduction", reference="Réduction")
    assert reduced.status_code == 201, reduced.text
    assert figures(reduced.json()["envelope"]) == (7_000_000, 0, 0, 7_000_000)
    assert reduced.json()["movements"][0]["allocated_delta_cents"] == -5_000_000

    ledger = await money.ledger("13")
    assert [(m["kind"], m["allocated_delta_cents"], m["reference"]) for m in ledger] == [
        ("allocation", ENVELOPE_13, f"Arrêté allocation 13 {ENVELOPE_13}"),
        ("adjustment", 2_000_000, "Abondement"),
        ("adjustment", -5_000_000, "Réduction"),
    ]


async def test_r_cap_4_reduction_below_committed_is_409_and_nothing_changes(
    money: Money, session: AsyncSession, envelope_13: dict, granted: uuid.UUID
) -> None:
    before = await money.envelope("13")
    movements = await movements_in_db(session)
    uncommitted = ENVELOPE_13 - GRANT

    body = problem(await money.allocate("13", uncommitted + 1, kind="reduction"), 409, "R-CAP-4")
    assert body["type"].endswith("/envelope-exhausted")
    assert (body["allocated_cents"], body["committed_cents"]) == (ENVELOPE_13, GRANT)
    assert body["available_cents"] == uncommitted
    assert await money.envelope("13") == before
    assert await movements_in_db(session) == movements

    # exactly the uncommitted part may go: the envelope is then fully committed
    exact = await money.allocate("13", uncommitted, kind="reduction")
    assert exact.status_code == 201, exact.text
    assert figures(exact.json()["envelope"]) == (GRANT, GRANT, 0, 0)
    assert exact.json()["envelope"]["use_rate_bps"] == 10_000


async def test_transfer_13_to_75_moves_the_money_and_writes_both_movements(
    money: Money, actors: Actors, envelope_13: dict
) -> None:
    assert (await money.allocate("75", ENVELOPE_75)).status_code == 201
    response = await money.allocate(
        "13", 3_000_000, kind="transfer", to_departement="75", reference="Redéploiement"
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["envelope"]["departement"] == "13"
    assert figures(body["envelope"]) == (7_000_000, 0, 0, 7_000_000)
    assert [
        (m["departement"], m["kind"], m["allocated_delta_cents"]) for m in body["movements"]
    ] == [
        ("13", "transfer_out", -3_000_000),
        ("75", "transfer_in", 3_000_000),
    ]
    assert figures(await money.envelope("75")) == (8_000_000, 0, 0, 8_000_000)

    out = (await money.ledger("13"))[-1]
    into = (await money.ledger("75", who=actors.pref75))[-1]
    assert (out["kind"], out["allocated_delta_cents"], out["reference"]) == (
        "transfer_out",
        -3_000_000,
        "Redéploiement",
    )
    assert (into["kind"], into["allocated_delta_cents"], into["departement"]) == (
        "transfer_in",
        3_000_000,
        "75",
    )
    assert out["actor"] == into["actor"] == "agent-dinum"


async def test_transfer_from_75_to_13_works_in_the_other_lock_order(
    money: Money, envelope_13: dict
) -> None:
    await money.allocate("75", ENVELOPE_75)
    response = await money.allocate("75", 1_000_000, kind="transfer", to_departement="13")
    assert response.status_code == 201, response.text
    assert [m["kind"] for m in response.json()["movements"]] == ["transfer_out", "transfer_in"]
    assert response.json()["envelope"]["departement"] == "75"
    assert (await money.envelope("75"))["allocated_cents"] == ENVELOPE_75 - 1_000_000
    assert (await money.envelope("13"))["allocated_cents"] == ENVELOPE_13 + 1_000_000


async def test_r_cap_4_transfer_above_the_uncommitted_part_is_409_and_nothing_moves(
    money: Money, session: AsyncSession, granted: uuid.UUID
) -> None:
    await money.allocate("75", ENVELOPE_75)
    before_13, before_75 = await money.envelope("13"), await money.envelope("75")
    movements = await movements_in_db(session)

    response = await money.allocate(
        "13", ENVELOPE_13 - GRANT + 1, kind="transfer", to_departement="75"
    )
    problem(response, 409, "R-CAP-4")
    assert await money.envelope("13") == before_13
    assert await money.envelope("75") == before_75
    assert await movements_in_db(session) == movements

    exact = await money.allocate("13", ENVELOPE_13 - GRANT, kind="transfer", to_departement="75")
    assert exact.status_code == 201, exact.text
    assert figures(exact.json()["envelope"]) == (GRANT, GRANT, 0, 0)


async def test_transfer_to_a_departement_without_envelope_or_to_itself_is_refused(
    money: Money, session: AsyncSession, envelope_13: dict
) -> None:
    movements = await movements_in_db(session)
    problem(
        await money.allocate("13", 100, kind="transfer", to_departement="75"),
        404,
        "envelope-not-found",
    )
    problem(
        await money.allocate("13", 100, kind="transfer", to_departement="13"),
        422,
        "invalid-transfer",
    )
    assert await movements_in_db(session) == movements
    assert (await money.envelope("13"))["allocated_cents"] == ENVELOPE_13


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "transfer", "amount_cents": 100, "reference": "r"},  # no target
        {"kind": "top_up", "amount_cents": 100, "reference": "r", "to_departement": "75"},
        {"kind": "top_up", "amount_cents": 0, "reference": "r"},
        {"kind": "top_up", "amount_cents": -100, "reference": "r"},
        {"kind": "top_up", "amount_cents": 100.5, "reference": "r"},
        {"kind": "top_up", "amount_cents": "100", "reference": "r"},
        {"kind": "top_up", "amount_cents": 100},
        {"kind": "adjustment", "amount_cents": 100, "reference": "r"},
        {"kind": "top_up", "amount_cents": 100, "reference": "r", "allocated_cents": 1},
    ],
)
async def test_malformed_allocations_are_422_and_change_nothing(
    client: AsyncClient, headers, actors: Actors, money: Money, envelope_13: dict, body: dict
) -> None:
    response = await client.post(
        f"{ENVELOPES}/13/allocations", json=body, headers=headers(actors.dinum)
    )
    assert response.status_code == 422, response.text
    assert (await money.envelope("13"))["allocated_cents"] == ENVELOPE_13


# -- who reads what (R-ACL-1) ---------------------------------------------------------------


async def test_prefect_reads_its_envelope_with_an_etag_that_moves_with_the_money(
    client: AsyncClient, headers, actors: Actors, money: Money, envelope_13: dict
) -> None:
    response = await client.get(f"{ENVELOPES}/13", headers=headers(actors.pref13))
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"v{response.json()["version"]}"'
    assert figures(response.json()) == (ENVELOPE_13, 0, 0, ENVELOPE_13)
    await money.allocate("13", 100, kind="top_up")
    again = await client.get(f"{ENVELOPES}/13", headers=headers(actors.pref13))
    assert again.headers["ETag"] != response.headers["ETag"]


@pytest.mark.parametrize("suffix", ["", "/ledger", "/forfaits"])
async def test_r_acl_1_prefect_gets_404_on_another_departements_envelope(
    client: AsyncClient, headers, actors: Actors, money: Money, envelope_13: dict, suffix: str
) -> None:
    await money.allocate("75", ENVELOPE_75)
    response = await client.get(f"{ENVELOPES}/75{suffix}", headers=headers(actors.pref13))
    problem(response, 404, "envelope-not-found")
    mine = await client.get(f"{ENVELOPES}/13{suffix}", headers=headers(actors.pref13))
    assert mine.status_code == 200


async def test_r_acl_1_the_404_does_not_tell_whether_the_envelope_exists(
    client: AsyncClient, headers, actors: Actors, money: Money
) -> None:
    absent = await client.get(f"{ENVELOPES}/75", headers=headers(actors.pref13))
    await money.allocate("75", ENVELOPE_75)
    present = await client.get(f"{ENVELOPES}/75", headers=headers(actors.pref13))
    assert absent.status_code == present.status_code == 404
    assert absent.json()["detail"] == present.json()["detail"]


async def test_envelope_of_a_departement_without_allocation_is_404(
    client: AsyncClient, headers, actors: Actors
) -> None:
    for who in (actors.pref13, actors.dinum):
        problem(
            await client.get(f"{ENVELOPES}/13", headers=headers(who)), 404, "envelope-not-found"
        )


@pytest.mark.parametrize("who", ["cand_a", "cand_b", "cand_paris"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", ""),
        ("GET", "/13"),
        ("GET", "/13/ledger"),
        ("GET", "/13/forfaits"),
        ("PUT", "/13/forfaits"),
        ("POST", "/13/allocations"),
    ],
)
async def test_candidates_get_403_on_every_envelope_endpoint(
    client: AsyncClient,
    headers,
    actors: Actors,
    envelope_13: dict,
    who: str,
    method: str,
    path: str,
) -> None:
    json = None
    if method == "PUT":
        json = {"tiers": []}
    elif method == "POST":
        json = {"kind": "top_up", "amount_cents": 100, "reference": "r"}
    response = await client.request(
        method,
        f"{ENVELOPES}{path}",
        json=json,
        headers={**headers(getattr(actors, who)), "If-Match": '"v0"'},
    )
    problem(response, 403, "forbidden-role")


@pytest.mark.parametrize("path", ["", "/13", "/13/ledger", "/13/forfaits"])
async def test_anonymous_reads_of_envelopes_are_401(
    client: AsyncClient, envelope_13: dict, path: str
) -> None:
    problem(await client.get(f"{ENVELOPES}{path}"), 401, "R-AUTH-1")


@pytest.mark.parametrize("who", ["dinum", "anct"])
async def test_dinum_and_anct_see_every_envelope(
    client: AsyncClient, headers, actors: Actors, money: Money, envelope_13: dict, who: str
) -> None:
    await money.allocate("75", ENVELOPE_75)
    principal = getattr(actors, who)
    listed = await client.get(ENVELOPES, headers=headers(principal))
    assert listed.status_code == 200
    assert sorted(e["departement"] for e in listed.json()["items"]) == ["13", "75"]
    for dep in ("13", "75"):
        for suffix in ("", "/ledger", "/forfaits"):
            response = await client.get(f"{ENVELOPES}/{dep}{suffix}", headers=headers(principal))
            assert response.status_code == 200, (dep, suffix, response.text)


async def test_r_acl_1_envelope_list_of_a_prefect_holds_only_its_departement(
    client: AsyncClient, headers, actors: Actors, money: Money, envelope_13: dict
) -> None:
    await money.allocate("75", ENVELOPE_75)
    mine = await client.get(ENVELOPES, headers=headers(actors.pref13))
    assert mine.status_code == 200
    assert [e["departement"] for e in mine.json()["items"]] == ["13"]
    theirs = await client.get(ENVELOPES, headers=headers(actors.pref75))
    assert [e["departement"] for e in theirs.json()["items"]] == ["75"]
    other = Principal("prefet-2a", Role.PREFECT, departement="2A")
    none = await client.get(ENVELOPES, headers=headers(other))
    assert none.status_code == 200 and none.json()["items"] == []


async def test_envelope_list_paginates_with_a_cursor(
    client: AsyncClient, headers, actors: Actors, money: Money, envelope_13: dict
) -> None:
    await money.allocate("75", ENVELOPE_75)
    first = (await client.get(ENVELOPES, params={"limit": 1}, headers=headers(actors.dinum))).json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = (
        await client.get(
            ENVELOPES,
            params={"limit": 1, "cursor": first["next_cursor"]},
            headers=headers(actors.dinum),
        )
    ).json()
    assert len(second["items"]) == 1 and not second.get("next_cursor")
    assert {first["items"][0]["departement"], second["items"][0]["departement"]} == {"13", "75"}


# -- the ledger ----------------------------------------------------------------------------


async def test_ledger_lists_movements_with_actor_and_reference_and_paginates(
    client: AsyncClient, headers, actors: Actors, money: Money, envelope_13: dict
) -> None:
    for i in range(4):
        await money.allocate("13", 1_000 + i, kind="top_up", reference=f"Abondement {i}")
    everything = await money.ledger("13", who=actors.pref13)
    assert len(everything) == 5
    assert all(m["actor"] == "agent-dinum" and m["actor_role"] == "dinum" for m in everything)
    assert all(m["departement"] == "13" and m["project_id"] is None for m in everything)
    assert [m["reference"] for m in everything[1:]] == [f"Abondement {i}" for i in range(4)]
    assert [m["id"] for m in everything] == sorted(m["id"] for m in everything)  # oldest first

    pages: list[list[dict]] = []
    params: dict = {"limit": 2}
    while True:
        page = (
            await client.get(
                f"{ENVELOPES}/13/ledger", params=params, headers=headers(actors.pref13)
            )
        ).json()
        pages.append(page["items"])
        if not page.get("next_cursor"):
            break
        params["cursor"] = page["next_cursor"]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [m for p in pages for m in p] == everything


async def test_ledger_rejects_a_forged_cursor(
    client: AsyncClient, headers, actors: Actors, envelope_13: dict
) -> None:
    response = await client.get(
        f"{ENVELOPES}/13/ledger", params={"cursor": "not-a-cursor"}, headers=headers(actors.dinum)
    )
    problem(response, 422, "invalid-cursor")


async def test_r_cap_4_r_cap_5_envelope_figures_equal_the_sums_of_the_ledger_deltas(
    money: Money,
    session: AsyncSession,
    actors: Actors,
    marseille: Candidate,
    aix: Candidate,
) -> None:
    await money.allocate("13", 5_000_000)
    await money.allocate("13", 1_000_000, kind="top_up")
    first = (  # started today: its final report, today, is not before its start (R-PAY-3)
        await make_project(session, candidate=marseille, status="in_review", start_on=clock.today())
    ).id
    second = (await make_project(session, candidate=aix, status="in_review")).id
    await money.commit(first, 1_000_000, reference="Comité 1")
    await money.commit(second, 800_000, reference="Comité 1")
    for project in (first, second):
        assert (await money.convention(project, schedule=[])).status_code == 200
    assert (await money.pay(first, "advance", 300_000)).status_code == 201
    assert (await money.pay(first, "instalment", 400_000)).status_code == 201
    assert (await money.final_report(first)).status_code == 200
    assert (await money.pay(first, "balance", 200_000)).status_code == 201  # 100 000 released
    assert (await money.pay(second, "advance", 240_000)).status_code == 201
    assert (await money.cancel(second)).status_code == 200  # 560 000 released
    assert (await money.allocate("13", 2_000_000, kind="reduction")).status_code == 201

    envelope = await money.envelope("13")
    ledger = await money.ledger("13", who=actors.pref13)
    allocated, committed, paid = 5_000_000 + 1_000_000 - 2_000_000, 900_000 + 240_000, 1_140_000
    assert figures(envelope) == (allocated, committed, paid, allocated - committed)
    assert ledger_sums(ledger) == (allocated, committed, paid)
    assert [m["kind"] for m in ledger] == [
        "allocation",
        "adjustment",
        "commitment",
        "commitment",
        "payment",
        "payment",
        "payment",
        "decommitment",
        "payment",
        "decommitment",
        "adjustment",
    ]
    assert [m["committed_delta_cents"] for m in ledger if m["kind"] == "decommitment"] == [
        -100_000,
        -560_000,
    ]
    assert {m["project_id"] for m in ledger if m["project_id"]} == {str(first), str(second)}
    assert all(m["actor"] == "prefet-13" for m in ledger if m["project_id"])

    row, sums, movements = await sql_envelope_and_ledger(session, "13")
    assert row == sums == (allocated, committed, paid)
    assert movements == len(ledger)


# -- Idempotency-Key on allocations ----------------------------------------------------------


async def test_same_idempotency_key_and_body_replays_the_first_answer_with_one_movement(
    money: Money, session: AsyncSession, envelope_13: dict
) -> None:
    movements = await movements_in_db(session)
    first = await money.allocate("13", 500_000, kind="top_up", key="abondement-2021-07")
    second = await money.allocate("13", 500_000, kind="top_up", key="abondement-2021-07")
    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert await movements_in_db(session) == movements + 1
    assert (await money.envelope("13"))["allocated_cents"] == ENVELOPE_13 + 500_000


async def test_first_allocation_replayed_creates_one_envelope(
    money: Money, session: AsyncSession
) -> None:
    first = await money.allocate("13", ENVELOPE_13, key="delegation-13")
    second = await money.allocate("13", ENVELOPE_13, key="delegation-13")
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert await envelopes_in_db(session) == 1
    assert await movements_in_db(session) == 1


async def test_same_idempotency_key_with_another_body_is_422_and_changes_nothing(
    money: Money, session: AsyncSession, envelope_13: dict
) -> None:
    await money.allocate("13", 500_000, kind="top_up", key="abondement-2021-07")
    before = await money.envelope("13")
    other = await money.allocate("13", 600_000, kind="top_up", key="abondement-2021-07")
    body = problem(other, 422, "idempotency-key-reused")
    assert body["type"].endswith("/idempotency-key-reused")
    assert await money.envelope("13") == before
    # same body on another département is another request too
    await money.allocate("75", ENVELOPE_75)
    elsewhere = await money.allocate("75", 500_000, kind="top_up", key="abondement-2021-07")
    problem(elsewhere, 422, "idempotency-key-reused")


async def test_idempotency_keys_are_per_agent(
    money: Money, session: AsyncSession, envelope_13: dict
) -> None:
    colleague = Principal("autre-agent-dinum", Role.DINUM)
    movements = await movements_in_db(session)
    mine = await money.allocate("13", 500_000, kind="top_up", key="k-1")
    theirs = await money.allocate("13", 500_000, kind="top_up", key="k-1", who=colleague)
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["movements"][0]["actor"] == "autre-agent-dinum"
    assert await movements_in_db(session) == movements + 2
    # and another body under the same key by the colleague is not a reuse of mine
    other = await money.allocate("13", 700_000, kind="top_up", key="k-2", who=colleague)
    mine_again = await money.allocate("13", 900_000, kind="top_up", key="k-2")
    assert other.status_code == mine_again.status_code == 201
    assert (await money.envelope("13"))["allocated_cents"] == ENVELOPE_13 + 2_600_000


async def test_a_refused_allocation_does_not_burn_its_idempotency_key(
    money: Money, envelope_13: dict, granted: uuid.UUID
) -> None:
    too_much = await money.allocate("13", ENVELOPE_13, kind="reduction", key="reduction-1")
    problem(too_much, 409, "R-CAP-4")
    # the failed request left no record: the same key and body is simply tried again
    again = await money.allocate("13", ENVELOPE_13, kind="reduction", key="reduction-1")
    problem(again, 409, "R-CAP-4")
    fine = await money.allocate("13", 1_000, kind="reduction", key="reduction-1")
    assert fine.status_code == 201, fine.text
