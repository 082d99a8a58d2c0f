"""Grants through the API: forfaits per département (R-CAP-3), commitments (R-CAP-1, R-CAP-3,
R-CAP-4), conventions, payments (R-PAY-1, R-PAY-2, R-CAP-5), final report, cancellation,
roles and scope (R-ACL-1), Idempotency-Key on payments."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.candidates.models import Candidate
from app.core.errors import AppError
from tests.api.budgets.conftest import ENVELOPE_13, GRANT
from tests.api.budgets.driver import (
    ENVELOPES,
    PROJECTS,
    Money,
    count,
    figures,
    problem,
    today,
)
from tests.conftest import Actors
from tests.factories import make_project
from tests.support import file_required_documents

FORFAITS = f"{ENVELOPES}/13/forfaits"
PREFECT_TIERS: list[dict[str, Any]] = [
    {
        "label": "Communes de moins de 5 000 habitants",
        "kinds": ["commune"],
        "population_below": 5_000,
        "amount_cents": 400_000,
    },
    {"label": "Autres communes", "kinds": ["commune"], "amount_cents": 800_000},
    {"label": "EPCI", "kinds": ["epci"], "epci_types": ["CC", "CA"], "amount_cents": 1_500_000},
    # R-CAP-3: a schedule covers every eligible kind
    {
        "label": "Autres catégories",
        "kinds": [
            "departement",
            "region",
            "epci",
            "syndicat",
            "collectivite_outre_mer",
            "public_body",
        ],
        "amount_cents": 2_500_000,
    },
]


async def put_forfaits(
    client: AsyncClient,
    headers,  # type: ignore[no-untyped-def]
    who: Principal,
    if_match: str | None,
    tiers: list[dict[str, Any]] | None = None,
    departement: str = "13",
):  # type: ignore[no-untyped-def]
    extra = {"If-Match": if_match} if if_match is not None else {}
    return await client.put(
        f"{ENVELOPES}/{departement}/forfaits",
        json={"tiers": PREFECT_TIERS if tiers is None else tiers},
        headers={**headers(who), **extra},
    )


async def expect_refused(call: Any, status: int, code: str) -> AppError:
    with pytest.raises(AppError) as caught:
        await call
    assert (caught.value.status, caught.value.code) == (status, code), caught.value.detail
    return caught.value


async def payments_in_db(session: AsyncSession, project_id: uuid.UUID) -> int:
    return await count(
        session, "SELECT COUNT(*) FROM payment WHERE project_id = :p", p=project_id.hex
    )


async def movements_of(session: AsyncSession, project_id: uuid.UUID, kind: str) -> int:
    return await count(
        session,
        "SELECT COUNT(*) FROM ledger_movement WHERE project_id = :p AND kind = :k",
        p=project_id.hex,
        k=kind,
    )


async def history(client: AsyncClient, headers, actors: Actors, project_id: uuid.UUID) -> list:  # type: ignore[no-untyped-def, type-arg]
    response = await client.get(f"{PROJECTS}/{project_id}/history", headers=headers(actors.pref13))
    assert response.status_code == 200
    return [(i["action"], i["from_status"], i["to_status"]) for i in response.json()["items"]]


# -- forfaits of the département (R-CAP-3) --------------------------------------------------


async def test_r_cap_3_prefect_sets_its_forfaits_and_the_eligibility_report_uses_them(
    client: AsyncClient,
    headers,
    actors: Actors,
    session: AsyncSession,
    marseille: Candidate,
) -> None:
    project = await make_project(session, candidate=marseille, strand="3a", requested_cents=800_000)
    await file_required_documents(client, headers(actors.cand_a), project.id)  # R-DOC-1 aside
    before = await client.get(
        f"{PROJECTS}/{project.id}/eligibility", headers=headers(actors.cand_a)
    )
    assert before.json()["forfait_cents"] == 1_000_000  # the programme's: other communes

    default = await client.get(FORFAITS, headers=headers(actors.pref13))
    assert default.status_code == 200
    assert default.headers["ETag"] == '"v0"'
    assert (default.json()["source"], default.json()["version"]) == ("programme", 0)

    response = await put_forfaits(client, headers, actors.pref13, '"v0"')
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"v1"'
    body = response.json()
    assert (body["departement"], body["source"], body["version"]) == ("13", "departement", 1)
    assert [t["amount_cents"] for t in body["tiers"]] == [400_000, 800_000, 1_500_000, 2_500_000]
    assert (await client.get(FORFAITS, headers=headers(actors.dinum))).json() == body

    report = await client.get(
        f"{PROJECTS}/{project.id}/eligibility", headers=headers(actors.cand_a)
    )
    assert report.status_code == 200
    assert report.json()["forfait_cents"] == 800_000  # Marseille: 886 040 inhabitants
    assert report.json()["max_grant_cents"] == 800_000
    assert report.json()["eligible"] is True

    # the 75 keeps the programme's schedule
    paris = await client.get(f"{ENVELOPES}/75/forfaits", headers=headers(actors.pref75))
    assert paris.json()["source"] == "programme"


async def test_r_cap_3_prefect_schedule_applies_to_a_small_commune_of_its_departement(
    client: AsyncClient, headers, actors: Actors, session: AsyncSession
) -> None:
    from tests.factories import make_candidate

    alleins = await make_candidate(session, siren="211300033")  # 2 852 inhabitants
    project = await make_project(session, candidate=alleins, strand="3a", requested_cents=400_000)
    assert (await put_forfaits(client, headers, actors.pref13, '"v0"')).status_code == 200
    report = await client.get(
        f"{PROJECTS}/{project.id}/eligibility", headers=headers(actors.pref13)
    )
    assert report.json()["forfait_cents"] == 400_000


async def test_r_flow_3_forfaits_need_if_match(
    client: AsyncClient, headers, actors: Actors
) -> None:
    problem(await put_forfaits(client, headers, actors.pref13, None), 428, "R-FLOW-3")
    problem(await put_forfaits(client, headers, actors.pref13, '"v1"'), 412, "R-FLOW-3")
    assert (await put_forfaits(client, headers, actors.pref13, '"v0"')).status_code == 200
    problem(await put_forfaits(client, headers, actors.pref13, '"v0"'), 412, "R-FLOW-3")
    second = await put_forfaits(
        client, headers, actors.pref13, '"v1"', tiers=[PREFECT_TIERS[1], PREFECT_TIERS[3]]
    )
    assert second.status_code == 200
    assert second.headers["ETag"] == '"v2"'
    assert len(second.json()["tiers"]) == 2


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("pref75", 404, "envelope-not-found"),
        ("dinum", 403, "forbidden-role"),
        ("anct", 403, "forbidden-role"),
        ("cand_a", 403, "forbidden-role"),
    ],
)
async def test_r_cap_3_only_the_departements_prefect_sets_its_forfaits(
    client: AsyncClient, headers, actors: Actors, who: str, status: int, code: str
) -> None:
    response = await put_forfaits(client, headers, getattr(actors, who), '"v0"')
    problem(response, status, code)
    current = await client.get(FORFAITS, headers=headers(actors.pref13))
    assert current.json()["source"] == "programme"


# -- commitments (R-CAP-1, R-CAP-3, R-CAP-4) ------------------------------------------------


async def test_r_cap_3_commitment_above_the_prefects_forfait_is_refused(
    client: AsyncClient,
    headers,
    actors: Actors,
    session: AsyncSession,
    money: Money,
    envelope_13: dict,
    marseille: Candidate,
) -> None:
    assert (await put_forfaits(client, headers, actors.pref13, '"v0"')).status_code == 200
    project = await make_project(
        session, candidate=marseille, strand="3a", requested_cents=800_000, status="in_review"
    )
    refused = await expect_refused(money.commit(project.id, 800_001), 409, "R-CAP-3")
    assert refused.extensions["max_grant_cents"] == 800_000
    assert figures(await money.envelope("13"))[1] == 0
    assert await money.status(project.id) == "in_review"

    await money.commit(project.id, 800_000)
    assert await money.status(project.id) == "accepted"
    assert figures(await money.envelope("13"))[1] == 800_000


async def test_r_cap_3_forfait_never_exceeds_the_r_cap_1_cap(
    money: Money, session: AsyncSession, envelope_13: dict, marseille: Candidate
) -> None:
    project = await make_project(
        session,
        candidate=marseille,
        strand="3a",
        lines=[("consulting", 600_000)],
        requested_cents=600_000,
        status="in_review",
    )  # forfait 10 000 €, eligible cost 6 000 €
    refused = await expect_refused(
        money.commit(project.id, 600_001), 409, "R-CAP-1"
    )  # the cap binds, not the forfait
    assert refused.extensions["max_grant_cents"] == 600_000


@pytest.mark.parametrize(
    ("lines", "cap"),
    [
        ([("development", 2_000_000)], 2_000_000),
        ([("development", 1_000_000), ("equipment_agents", 1_000_000)], 1_000_000),  # R-EXCL-1
    ],
)
async def test_r_cap_1_commitment_above_the_eligible_cost_is_refused(
    money: Money,
    session: AsyncSession,
    envelope_13: dict,
    marseille: Candidate,
    lines: list,  # type: ignore[type-arg]
    cap: int,
) -> None:
    project = await make_project(
        session, candidate=marseille, lines=lines, requested_cents=cap, status="in_review"
    )
    refused = await expect_refused(money.commit(project.id, cap + 1), 409, "R-CAP-1")
    assert refused.extensions["max_grant_cents"] == cap
    await expect_refused(money.commit(project.id, 0), 409, "R-CAP-1")
    assert await count(session, "SELECT COUNT(*) FROM project_grant") == 0
    await money.commit(project.id, cap)
    assert await money.status(project.id) == "accepted"


async def test_r_cap_4_commitment_above_the_available_amount_is_409_and_commits_nothing(
    money: Money, session: AsyncSession, marseille: Candidate, aix: Candidate
) -> None:
    await money.allocate("13", 1_500_000)
    first = await make_project(session, candidate=marseille, status="in_review")
    second = await make_project(session, candidate=aix, status="in_review")
    await money.commit(first.id, GRANT)

    refused = await expect_refused(money.commit(second.id, GRANT), 409, "R-CAP-4")
    assert refused.extensions["available_cents"] == 500_000
    assert figures(await money.envelope("13")) == (1_500_000, GRANT, 0, 500_000)
    assert await money.status(second.id) == "in_review"
    problem(await money.grant(second.id), 404, "grant-not-found")
    assert [m["kind"] for m in await money.ledger("13")] == ["allocation", "commitment"]

    await money.commit(second.id, 500_000)  # exactly what is left
    assert figures(await money.envelope("13")) == (1_500_000, 1_500_000, 0, 0)


async def test_r_cap_4_no_commitment_without_an_envelope(
    money: Money, in_review: uuid.UUID
) -> None:
    await expect_refused(money.commit(in_review, GRANT), 409, "R-CAP-4")
    assert await money.status(in_review) == "in_review"


async def test_r_flow_1_only_a_dossier_in_review_is_granted_and_only_once(
    money: Money, session: AsyncSession, envelope_13: dict, marseille: Candidate
) -> None:
    draft = await make_project(session, candidate=marseille)
    await expect_refused(money.commit(draft.id, GRANT), 409, "R-FLOW-1")
    project = await make_project(session, candidate=marseille, status="in_review")
    await money.commit(project.id, GRANT)
    await expect_refused(money.commit(project.id, GRANT), 409, "R-FLOW-1")
    assert figures(await money.envelope("13"))[1] == GRANT


async def test_r_acl_1_another_prefect_cannot_commit_a_grant(
    money: Money, actors: Actors, envelope_13: dict, in_review: uuid.UUID
) -> None:
    await expect_refused(
        money.commit(in_review, GRANT, who=actors.pref75), 404, "project-not-found"
    )
    assert figures(await money.envelope("13"))[1] == 0


# -- convention -----------------------------------------------------------------------------


async def test_convention_puts_an_accepted_dossier_under_convention(
    client: AsyncClient, headers, actors: Actors, money: Money, granted: uuid.UUID
) -> None:
    response = await money.convention(granted)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["project_status"] == "under_convention"
    assert (body["amount_cents"], body["paid_cents"], body["remaining_cents"]) == (GRANT, 0, GRANT)
    assert body["convention"]["reference"] == "CRTE-13-2021-042"
    assert body["convention"]["kind"] == "crte"
    assert [i["amount_cents"] for i in body["convention"]["schedule"]] == [300_000, 700_000]
    assert await money.status(granted) == "under_convention"
    assert (await history(client, headers, actors, granted))[-2:] == [
        ("accept", "in_review", "accepted"),
        ("convention", "accepted", "under_convention"),
    ]


async def test_r_cap_5_convention_schedule_above_the_grant_is_409(
    money: Money, session: AsyncSession, granted: uuid.UUID
) -> None:
    schedule = [
        {"label": "Avance", "kind": "advance", "due_on": today(), "amount_cents": 300_000},
        {"label": "Solde", "kind": "balance", "due_on": today(), "amount_cents": 700_001},
    ]
    problem(await money.convention(granted, schedule=schedule), 409, "R-CAP-5")
    assert await money.status(granted) == "accepted"
    assert await count(session, "SELECT COUNT(*) FROM convention") == 0
    assert (await money.grant(granted)).json()["convention"] is None


async def test_r_flow_1_a_second_convention_is_409(
    money: Money, under_convention: uuid.UUID
) -> None:
    again = await money.convention(under_convention, reference="CRTE-13-2021-043")
    body = problem(again, 409, "R-FLOW-1")
    assert body["current_status"] == "under_convention"
    grant = (await money.grant(under_convention)).json()
    assert grant["convention"]["reference"] == "CRTE-13-2021-042"


async def test_r_flow_1_no_convention_before_the_grant(
    money: Money, envelope_13: dict, in_review: uuid.UUID
) -> None:
    problem(await money.convention(in_review), 409, "R-FLOW-1")
    assert await money.status(in_review) == "in_review"


async def test_r_flow_3_convention_needs_the_projects_current_etag(
    client: AsyncClient, headers, actors: Actors, money: Money, granted: uuid.UUID
) -> None:
    missing = await client.post(
        f"{PROJECTS}/{granted}/convention",
        json={"reference": "C-1", "kind": "ad_hoc", "signed_on": "2021-09-15"},
        headers=headers(actors.pref13),
    )
    problem(missing, 428, "R-FLOW-3")
    problem(await money.convention(granted, etag='"v1"'), 412, "R-FLOW-3")
    assert await money.status(granted) == "accepted"


# -- payments (R-PAY-1, R-PAY-2, R-CAP-5) ---------------------------------------------------


async def test_r_pay_1_advance_up_to_30_percent_and_not_one_cent_more(
    money: Money, session: AsyncSession, under_convention: uuid.UUID
) -> None:
    over = problem(await money.pay(under_convention, "advance", 300_001), 409, "R-PAY-1")
    assert over["type"].endswith("/payment-refused")
    assert [e["code"] for e in over["errors"]] == ["R-PAY-1"]

    paid = await money.pay(under_convention, "advance", 300_000, reference="DP-2021-1234")
    assert paid.status_code == 201, paid.text
    assert (paid.json()["kind"], paid.json()["amount_cents"]) == ("advance", 300_000)
    problem(await money.pay(under_convention, "advance", 1), 409, "R-PAY-1")

    grant = (await money.grant(under_convention)).json()
    assert (grant["paid_cents"], grant["advance_paid_cents"]) == (300_000, 300_000)
    assert figures(await money.envelope("13")) == (ENVELOPE_13, GRANT, 300_000, ENVELOPE_13 - GRANT)
    assert await payments_in_db(session, under_convention) == 1


async def test_r_pay_2_advance_and_instalments_up_to_80_percent_before_the_final_report(
    money: Money, under_convention: uuid.UUID
) -> None:
    assert (await money.pay(under_convention, "advance", 300_000)).status_code == 201
    assert (await money.pay(under_convention, "instalment", 250_000)).status_code == 201
    problem(await money.pay(under_convention, "instalment", 250_001), 409, "R-PAY-2")
    assert (await money.pay(under_convention, "instalment", 250_000)).status_code == 201
    problem(await money.pay(under_convention, "instalment", 1), 409, "R-PAY-2")
    balance = problem(await money.pay(under_convention, "balance", 200_000), 409, "R-PAY-2")
    assert [e["field"] for e in balance["errors"]] == ["/kind"]
    assert (await money.grant(under_convention)).json()["paid_cents"] == 800_000
    assert await money.status(under_convention) == "under_convention"


async def test_r_pay_2_balance_after_the_final_report_completes_the_project(
    client: AsyncClient, headers, actors: Actors, money: Money, under_convention: uuid.UUID
) -> None:
    await money.pay(under_convention, "advance", 300_000)
    await money.pay(under_convention, "instalment", 500_000)
    report = await money.final_report(under_convention)
    assert report.status_code == 200, report.text
    assert report.json()["final_report_on"] == today()
    problem(await money.pay(under_convention, "instalment", 1), 409, "R-PAY-2")

    balance = await money.pay(under_convention, "balance", 200_000)
    assert balance.status_code == 201, balance.text
    assert await money.status(under_convention) == "completed"
    assert (await history(client, headers, actors, under_convention))[-2:] == [
        ("pay-balance", "under_convention", "paid"),
        ("complete", "paid", "completed"),
    ]
    grant = (await money.grant(under_convention)).json()
    assert (grant["status"], grant["paid_cents"], grant["remaining_cents"]) == ("closed", GRANT, 0)
    assert grant["released_cents"] == 0
    assert [p["kind"] for p in grant["payments"]] == ["advance", "instalment", "balance"]
    assert figures(await money.envelope("13")) == (ENVELOPE_13, GRANT, GRANT, ENVELOPE_13 - GRANT)
    assert "decommitment" not in [m["kind"] for m in await money.ledger("13")]
    # a completed project takes no more payments
    problem(await money.pay(under_convention, "balance", 1), 409, "R-FLOW-1")


async def test_r_cap_5_a_smaller_balance_releases_the_rest_to_the_envelope(
    money: Money, session: AsyncSession, under_convention: uuid.UUID
) -> None:
    await money.pay(under_convention, "advance", 300_000)
    await money.final_report(under_convention)
    assert (await money.pay(under_convention, "balance", 100_000)).status_code == 201
    assert await money.status(under_convention) == "completed"

    grant = (await money.grant(under_convention)).json()
    assert (grant["paid_cents"], grant["released_cents"], grant["remaining_cents"]) == (
        400_000,
        600_000,
        0,
    )
    assert figures(await money.envelope("13")) == (
        ENVELOPE_13,
        400_000,
        400_000,
        ENVELOPE_13 - 400_000,
    )
    last = (await money.ledger("13"))[-1]
    assert (last["kind"], last["committed_delta_cents"], last["project_id"]) == (
        "decommitment",
        -600_000,
        str(under_convention),
    )
    assert await movements_of(session, under_convention, "decommitment") == 1


async def test_r_cap_5_a_payment_over_the_grant_is_refused(
    money: Money, under_convention: uuid.UUID
) -> None:
    early = problem(await money.pay(under_convention, "instalment", GRANT + 1), 409, "R-CAP-5")
    assert [e["code"] for e in early["errors"]] == ["R-CAP-5", "R-PAY-2"]
    await money.pay(under_convention, "advance", 300_000)
    await money.final_report(under_convention)
    problem(await money.pay(under_convention, "balance", 700_001), 409, "R-CAP-5")
    assert (await money.grant(under_convention)).json()["paid_cents"] == 300_000
    assert await money.status(under_convention) == "under_convention"


async def test_r_flow_1_no_payment_before_the_convention(
    money: Money, session: AsyncSession, granted: uuid.UUID
) -> None:
    body = problem(await money.pay(granted, "advance", 100_000), 409, "R-FLOW-1")
    assert body["current_status"] == "accepted"
    assert await payments_in_db(session, granted) == 0


async def test_final_report_only_under_convention_and_only_once(
    money: Money, granted: uuid.UUID
) -> None:
    problem(await money.final_report(granted), 409, "R-FLOW-1")
    assert (await money.convention(granted)).status_code == 200
    assert (await money.final_report(granted)).status_code == 200
    problem(await money.final_report(granted), 409, "R-PAY-2")


async def test_payment_replayed_with_the_same_idempotency_key_is_paid_once(
    money: Money, session: AsyncSession, under_convention: uuid.UUID
) -> None:
    first = await money.pay(under_convention, "advance", 300_000, key="dp-2021-1234")
    second = await money.pay(under_convention, "advance", 300_000, key="dp-2021-1234")
    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert await payments_in_db(session, under_convention) == 1
    assert await movements_of(session, under_convention, "payment") == 1
    assert (await money.grant(under_convention)).json()["paid_cents"] == 300_000
    assert (await money.envelope("13"))["paid_cents"] == 300_000

    other = await money.pay(under_convention, "advance", 200_000, key="dp-2021-1234")
    problem(other, 422, "idempotency-key-reused")
    assert await payments_in_db(session, under_convention) == 1


async def test_a_refused_payment_does_not_burn_its_idempotency_key(
    money: Money, session: AsyncSession, under_convention: uuid.UUID
) -> None:
    problem(await money.pay(under_convention, "balance", 100, key="dp-1"), 409, "R-PAY-2")
    await money.final_report(under_convention)
    assert (await money.pay(under_convention, "balance", 100, key="dp-1")).status_code == 201


# -- cancellation (R-CAP-5) ---------------------------------------------------------------


async def test_r_cap_5_cancelling_a_grant_releases_exactly_its_unpaid_part(
    client: AsyncClient,
    headers,
    actors: Actors,
    money: Money,
    session: AsyncSession,
    under_convention: uuid.UUID,
) -> None:
    assert (await money.pay(under_convention, "advance", 300_000)).status_code == 201
    before = await money.envelope("13")
    response = await money.cancel(under_convention, reason="Projet abandonné.")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["project_status"], body["status"]) == ("cancelled", "cancelled")
    assert (body["paid_cents"], body["released_cents"], body["remaining_cents"]) == (
        300_000,
        700_000,
        0,
    )
    after = await money.envelope("13")
    assert before["committed_cents"] - after["committed_cents"] == 700_000
    assert after["paid_cents"] == before["paid_cents"] == 300_000
    assert after["available_cents"] == before["available_cents"] + 700_000
    last = (await money.ledger("13"))[-1]
    assert (last["kind"], last["committed_delta_cents"], last["paid_delta_cents"]) == (
        "decommitment",
        -700_000,
        0,
    )
    assert (last["project_id"], last["reference"], last["actor"]) == (
        str(under_convention),
        "Projet abandonné.",
        "prefet-13",
    )
    assert await money.status(under_convention) == "cancelled"
    assert (await history(client, headers, actors, under_convention))[-1] == (
        "cancel",
        "under_convention",
        "cancelled",
    )
    problem(await money.pay(under_convention, "instalment", 1), 409, "R-FLOW-1")
    problem(await money.cancel(under_convention), 409, "R-FLOW-1")
    assert await movements_of(session, under_convention, "decommitment") == 1


async def test_r_cap_5_cancelling_an_accepted_grant_releases_all_of_it(
    money: Money, granted: uuid.UUID
) -> None:
    assert (await money.cancel(granted)).status_code == 200
    assert figures(await money.envelope("13")) == (ENVELOPE_13, 0, 0, ENVELOPE_13)


async def test_r_flow_1_cancelling_a_draft_is_409(
    money: Money, session: AsyncSession, envelope_13: dict, marseille: Candidate
) -> None:
    draft = await make_project(session, candidate=marseille)
    body = problem(await money.cancel(draft.id), 409, "R-FLOW-1")
    assert (body["current_status"], body["requested_status"]) == ("draft", "cancelled")
    assert await money.status(draft.id) == "draft"


async def test_r_flow_3_cancel_needs_the_projects_current_etag(
    client: AsyncClient, headers, actors: Actors, money: Money, granted: uuid.UUID
) -> None:
    missing = await client.post(
        f"{PROJECTS}/{granted}/cancel", json={"reason": "r"}, headers=headers(actors.pref13)
    )
    problem(missing, 428, "R-FLOW-3")
    problem(await money.cancel(granted, etag='"v1"'), 412, "R-FLOW-3")
    assert await money.status(granted) == "accepted"
    assert figures(await money.envelope("13"))[1] == GRANT


# -- roles and scope (R-ACL-1) ---------------------------------------------------------------


async def act(money: Money, action: str, project_id: uuid.UUID, who: Principal):  # type: ignore[no-untyped-def]
    if action == "convention":
        return await money.convention(project_id, who=who)
    if action == "payments":
        return await money.pay(project_id, "advance", 100_000, who=who)
    if action == "final-report":
        return await money.final_report(project_id, who=who)
    return await money.cancel(project_id, who=who)


@pytest.mark.parametrize("action", ["convention", "payments", "final-report", "cancel"])
@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("pref75", 404, "project-not-found"),
        ("dinum", 403, "forbidden-role"),
        ("anct", 403, "forbidden-role"),
        ("cand_a", 403, "forbidden-role"),
        ("cand_b", 403, "forbidden-role"),
    ],
)
async def test_r_acl_1_only_the_departements_prefect_acts_on_grants(
    money: Money,
    actors: Actors,
    granted: uuid.UUID,
    action: str,
    who: str,
    status: int,
    code: str,
) -> None:
    if action != "convention":
        assert (await money.convention(granted)).status_code == 200
    before = (await money.grant(granted)).json()
    problem(await act(money, action, granted, getattr(actors, who)), status, code)
    assert (await money.grant(granted)).json() == before


@pytest.mark.parametrize("action", ["convention", "payments", "final-report", "cancel"])
async def test_grant_actions_need_a_token(
    client: AsyncClient, granted: uuid.UUID, action: str
) -> None:
    problem(await client.post(f"{PROJECTS}/{granted}/{action}", json={}), 401, "R-AUTH-1")


async def test_candidate_reads_its_own_grant_convention_and_payments(
    client: AsyncClient, headers, actors: Actors, money: Money, under_convention: uuid.UUID
) -> None:
    await money.pay(under_convention, "advance", 300_000, reference="DP-2021-1234")
    response = await money.grant(under_convention, who=actors.cand_a)
    assert response.status_code == 200
    body = response.json()
    assert (body["amount_cents"], body["paid_cents"]) == (GRANT, 300_000)
    assert body["convention"]["reference"] == "CRTE-13-2021-042"
    assert [(p["kind"], p["amount_cents"], p["reference"]) for p in body["payments"]] == [
        ("advance", 300_000, "DP-2021-1234")
    ]
    for who in ("pref13", "dinum", "anct"):
        assert (await money.grant(under_convention, who=getattr(actors, who))).json() == body
    problem(
        await client.get(f"{ENVELOPES}/13", headers=headers(actors.cand_a)), 403, "forbidden-role"
    )


@pytest.mark.parametrize("who", ["cand_b", "cand_paris", "pref75"])
async def test_r_acl_1_others_get_404_on_a_grant(
    money: Money, actors: Actors, under_convention: uuid.UUID, who: str
) -> None:
    problem(await money.grant(under_convention, who=getattr(actors, who)), 404, "project-not-found")


async def test_grant_of_a_dossier_without_one_is_404(
    money: Money, actors: Actors, in_review: uuid.UUID
) -> None:
    problem(await money.grant(in_review, who=actors.cand_a), 404, "grant-not-found")


async def test_grant_read_needs_a_token(client: AsyncClient, granted: uuid.UUID) -> None:
    problem(await client.get(f"{PROJECTS}/{granted}/grant"), 401, "R-AUTH-1")


@pytest.mark.parametrize(
    ("other_funding", "granted_cents", "code"),
    [
        (1_500_000, 500_001, "R-CAP-2"),  # 5 000,01 € + 15 000 € of other funding > 20 000 €
        (1_500_000, 2_000_000, "R-CAP-2"),  # within R-CAP-1 (eligible cost), not R-CAP-2
        (2_000_000, 1, "R-CAP-2"),
    ],
)
async def test_r_cap_2_commitment_plus_other_public_funding_above_the_cost_is_refused(
    money: Money,
    session: AsyncSession,
    envelope_13: dict,
    marseille: Candidate,
    other_funding: int,
    granted_cents: int,
    code: str,
) -> None:
    from app.projects.models import FundingLine

    project = await make_project(
        session,
        candidate=marseille,
        requested_cents=granted_cents,
        funding_lines=[FundingLine(position=0, funder="Région Sud", amount_cents=other_funding)],
        status="in_review",
    )
    await expect_refused(money.commit(project.id, granted_cents), 409, code)
    assert figures(await money.envelope("13"))[1] == 0
    assert await money.status(project.id) == "in_review"
    if other_funding < 2_000_000:
        await money.commit(project.id, 2_000_000 - other_funding)  # exactly the cost
        assert await money.status(project.id) == "accepted"


async def set_payment_caps(client: AsyncClient, headers, actors: Actors, **caps: int) -> None:  # type: ignore[no-untyped-def]
    etag = (await client.get("/api/v1/programme")).headers["ETag"]
    response = await client.patch(
        "/api/v1/programme", json=caps, headers={**headers(actors.dinum), "If-Match": etag}
    )
    assert response.status_code == 200, response.text


async def test_r_pay_1_r_pay_2_caps_come_from_the_programme_no_advance_at_0_bp(
    client: AsyncClient,
    headers,
    actors: Actors,
    money: Money,
    envelope_13: dict,
    in_review: uuid.UUID,
) -> None:
    """The caps in force at the decision govern the grant (R-PAY-4)."""
    await set_payment_caps(client, headers, actors, advance_cap_bps=0)
    await money.commit(in_review, GRANT)
    schedule = [
        {"label": "Acompte", "kind": "instalment", "due_on": today(), "amount_cents": 800_000},
        {"label": "Solde", "kind": "balance", "due_on": today(), "amount_cents": 200_000},
    ]
    assert (await money.convention(in_review, schedule=schedule)).status_code == 200
    problem(await money.pay(in_review, "advance", 1), 409, "R-PAY-1")
    assert (await money.pay(in_review, "instalment", 800_000)).status_code == 201


async def test_r_pay_1_r_pay_2_caps_come_from_the_programme_everything_early_at_10000_bp(
    client: AsyncClient,
    headers,
    actors: Actors,
    money: Money,
    envelope_13: dict,
    in_review: uuid.UUID,
) -> None:
    await set_payment_caps(
        client, headers, actors, advance_cap_bps=10_000, pre_final_payment_cap_bps=10_000
    )
    await money.commit(in_review, GRANT)
    assert (await money.convention(in_review)).status_code == 200
    assert (await money.pay(in_review, "advance", 600_000)).status_code == 201
    assert (await money.pay(in_review, "instalment", 400_000)).status_code == 201
    problem(await money.pay(in_review, "instalment", 1), 409, "R-CAP-5")
    assert (await money.grant(in_review)).json()["paid_cents"] == GRANT


async def test_r_pay_2_a_grant_fully_paid_before_its_final_report_completes_with_the_report(
    money: Money,
    client: AsyncClient,
    headers,
    actors: Actors,
    envelope_13: dict,
    in_review: uuid.UUID,
) -> None:
    await set_payment_caps(client, headers, actors, pre_final_payment_cap_bps=10_000)
    await money.commit(in_review, GRANT)
    assert (await money.convention(in_review)).status_code == 200
    assert (await money.pay(in_review, "instalment", GRANT)).status_code == 201
    report = await money.final_report(in_review)
    assert report.status_code == 200, report.text
    assert report.json()["project_status"] == "completed"
    assert report.json()["released_cents"] == 0
    history = await client.get(f"{PROJECTS}/{in_review}/history", headers=headers(actors.pref13))
    assert [h["action"] for h in history.json()["items"]][-2:] == ["pay-balance", "complete"]


async def test_r_sync_1_ledger_and_envelopes_accept_updated_since(
    money: Money, client: AsyncClient, headers, actors: Actors, granted: uuid.UUID
) -> None:
    everything = await money.ledger()
    assert len(everything) >= 2
    since = everything[-1]["at"]
    recent = await client.get(
        f"{ENVELOPES}/13/ledger", params={"updated_since": since}, headers=headers(actors.pref13)
    )
    assert recent.status_code == 200
    assert [m["id"] for m in recent.json()["items"]] == [everything[-1]["id"]]
    future = {"updated_since": "2999-01-01T00:00:00Z"}
    envelopes = await client.get(ENVELOPES, params=future, headers=headers(actors.dinum))
    assert envelopes.status_code == 200 and envelopes.json()["items"] == []
    current = await client.get(
        ENVELOPES, params={"updated_since": since}, headers=headers(actors.dinum)
    )
    assert [e["departement"] for e in current.json()["items"]] == ["13"]


async def test_r_flow_3_grant_responses_carry_the_dossier_etag_for_the_next_write(
    money: Money, granted: uuid.UUID
) -> None:
    signed = await money.convention(granted)
    assert signed.status_code == 200
    assert signed.headers["ETag"] == await money.etag(granted)
    cancelled = await money.cancel(granted, etag=signed.headers["ETag"])
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["project_status"] == "cancelled"
    assert cancelled.headers["ETag"] == await money.etag(granted)
