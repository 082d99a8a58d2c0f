"""R-PAY-4: a grant's terms are frozen when its committee closes (eligible cost, aid rate,
forfait, payment caps, programme and grid versions); a later change of the programme applies
to later decisions only. Payments, convention schedules and open data read the frozen terms."""

from __future__ import annotations

import uuid
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from tests.api.budgets.conftest import GRANT
from tests.api.budgets.driver import Money, problem, today
from tests.api.stats.dataset import Builder, at
from tests.conftest import ACTORS, MARSEILLE_SIREN, Actors
from tests.factories import make_project

PROGRAMME = "/api/v1/programme"
JSON_URL = "/api/v1/open-data/subventions.json"


async def patch_programme(client: AsyncClient, headers: Any, **changes: int) -> None:
    """DINUM changes the programme (PATCH with the current ETag)."""
    etag = (await client.get(PROGRAMME)).headers["ETag"]
    response = await client.patch(
        PROGRAMME, json=changes, headers={**headers(ACTORS.dinum), "If-Match": etag}
    )
    assert response.status_code == 200, response.text


async def terms(money: Money, project_id: uuid.UUID) -> dict[str, Any]:
    response = await money.grant(project_id)
    assert response.status_code == 200, response.text
    return response.json()["terms"]  # type: ignore[no-any-return]


async def test_r_pay_4_open_data_aid_rate_keeps_the_eligible_cost_of_the_decision(
    client: AsyncClient, session: AsyncSession, headers: Any, clock_at: Any
) -> None:
    """The issue's counter-example, through the committee: 9 000 € of development and a
    1 000 € extra-EU licence (within the 10 % share cap, R-EXCL-2), granted 10 000 €. DINUM
    then lowers the share cap to 5 %: the export's `tauxAide` stays 1.0 (it read 1.0556 when
    the eligible cost was recomputed with today's programme)."""
    builder = Builder(client, session, headers, clock_at)
    clock_at(at("2021-03-01"))
    assert (await builder.money.allocate("13", 10_000_000)).status_code == 201
    await builder.register(ACTORS.cand_a, MARSEILLE_SIREN)
    project_id = await builder.file(
        ACTORS.cand_a,
        strand="3c",
        requested_cents=1_000_000,
        lines=[
            {"category": "development", "label": "Développement", "amount_cents": 900_000},
            {
                "category": "software_licence",
                "label": "Licence",
                "amount_cents": 100_000,
                "vendor_origin": "extra_eu",
            },
        ],
        agents=5,
        users=50,
        title="Guichet en ligne",
    )
    await builder.submit(ACTORS.cand_a, project_id, "2021-03-01")
    await builder.review(ACTORS.pref13, project_id)
    await builder.accept(ACTORS.pref13, project_id, "2021-03-10", 1_000_000)
    await builder.convention(
        ACTORS.pref13,
        project_id,
        "2021-03-15",
        [{"label": "Solde", "kind": "balance", "due_on": "2021-09-30", "amount_cents": 1_000_000}],
        "CRTE-13-2021-010",
    )
    frozen = await terms(builder.money, project_id)
    assert frozen["eligible_cost_cents"] == 1_000_000
    assert (frozen["aid_rate_bps"], frozen["forfait_cents"]) == (10_000, None)

    await patch_programme(client, headers, extra_eu_licence_share_cap_bps=500)

    records = (await client.get(JSON_URL)).json()
    assert [(r["montant"], r["tauxAide"]) for r in records] == [(10000.0, 1.0)]
    assert await terms(builder.money, project_id) == frozen


async def test_r_pay_4_lowering_the_caps_after_the_decision_changes_no_payment(
    client: AsyncClient, headers: Any, money: Money, under_convention: uuid.UUID
) -> None:
    """Decided under 30 % / 80 %: DINUM's later 0 % advance and 10 % before the final report
    change nothing for this grant; raising them later does not let it pay more either."""
    before = await terms(money, under_convention)
    assert (before["advance_cap_bps"], before["pre_final_payment_cap_bps"]) == (3_000, 8_000)
    await patch_programme(client, headers, advance_cap_bps=0, pre_final_payment_cap_bps=1_000)
    assert (await money.pay(under_convention, "advance", 300_000)).status_code == 201
    problem(await money.pay(under_convention, "advance", 1), 409, "R-PAY-1")
    assert (await money.pay(under_convention, "instalment", 500_000)).status_code == 201
    await patch_programme(client, headers, advance_cap_bps=10_000, pre_final_payment_cap_bps=10_000)
    problem(await money.pay(under_convention, "instalment", 1), 409, "R-PAY-2")
    assert await terms(money, under_convention) == before


async def test_r_pay_4_the_convention_schedule_is_checked_against_the_frozen_caps(
    client: AsyncClient, headers: Any, money: Money, granted: uuid.UUID
) -> None:
    """R-PAY-3 measures the schedule with the caps of the decision: a 30 % advance stays
    within them after DINUM lowered the advance cap to 0 %."""
    await patch_programme(client, headers, advance_cap_bps=0)
    response = await money.convention(granted)  # 3 000 € advance of 10 000 €
    assert response.status_code == 200, response.text


async def test_r_pay_4_a_raised_cap_does_not_widen_an_earlier_grants_schedule(
    client: AsyncClient, headers: Any, money: Money, granted: uuid.UUID
) -> None:
    await patch_programme(client, headers, advance_cap_bps=10_000)
    schedule = [
        {"label": "Avance", "kind": "advance", "due_on": today(), "amount_cents": 500_000},
        {"label": "Solde", "kind": "balance", "due_on": today(), "amount_cents": 500_000},
    ]
    body = problem(await money.convention(granted, schedule=schedule), 422, "R-PAY-3")
    assert "R-PAY-1" in {e["code"] for e in body["errors"]}


async def test_r_pay_4_a_programme_change_applies_to_later_decisions(
    client: AsyncClient,
    headers: Any,
    session: AsyncSession,
    money: Money,
    granted: uuid.UUID,
    marseille: Candidate,
) -> None:
    """The programme's version and caps of each decision are the ones in force then."""
    first = await terms(money, granted)
    await patch_programme(client, headers, advance_cap_bps=1_000)
    later = await make_project(session, candidate=marseille, status="in_review")
    await money.commit(later.id, GRANT)
    second = await terms(money, later.id)
    assert (first["advance_cap_bps"], second["advance_cap_bps"]) == (3_000, 1_000)
    assert second["programme_version"] > first["programme_version"]
    assert first["grid_version"] == second["grid_version"] == 1
    assert (await terms(money, granted)) == first


async def test_r_pay_4_the_forfait_and_its_tier_are_frozen(
    client: AsyncClient, money: Money, session: AsyncSession, envelope_13: dict, actors: Actors
) -> None:
    """R-CAP-3: a 3a grant keeps the forfait and the tier it was decided under."""
    from tests.factories import make_candidate

    alleins = await make_candidate(session, siren="211300033")  # 2 852 inhabitants
    project = await make_project(
        session, candidate=alleins, strand="3a", requested_cents=500_000, status="in_review"
    )
    await money.commit(project.id, 500_000)
    frozen = await terms(money, project.id)
    assert (frozen["forfait_cents"], frozen["forfait_tier"]) == (
        500_000,
        "Communes de moins de 5 000 habitants",
    )
