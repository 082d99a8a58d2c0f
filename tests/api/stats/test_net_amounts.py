"""§5: every money figure is built from a grant's net amount (granted − released at settlement
or on cancellation) and reconciles with the ledger: the issue's counter-example."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.api.budgets.driver import Money, ledger_sums
from tests.conftest import ACTORS, AIX_SIREN, MARSEILLE_SIREN
from tests.factories import make_candidate, make_project
from tests.support import TEST_CLOCK_START

# R-PAY-3: the final report recorded today is not dated before the project's start.
TODAY = TEST_CLOCK_START.date()

NATIONAL = "/api/v1/stats/national"
DEPARTEMENTS = "/api/v1/stats/departements"
CSV_URL = "/api/v1/open-data/subventions.csv"
JSON_URL = "/api/v1/open-data/subventions.json"


async def get(client: AsyncClient, headers: Any, url: str, **params: Any) -> Any:
    response = await client.get(url, params=params, headers=headers(ACTORS.dinum))
    assert response.status_code == 200, response.text
    return response.json()


async def test_net_amounts_a_cancelled_grant_counts_for_what_it_paid(
    client: AsyncClient, session: AsyncSession, headers: Any
) -> None:
    """Grant A (10 000 €) cancelled after a 3 000 € advance; grant B (10 000 €) settled with
    9 000 € paid and 1 000 € released: committed = paid = 12 000 €; the dashboards said
    10 000 € granted and 1 beneficiary, they say 12 000 € and 2; the open data has two rows,
    3 000 € and 9 000 €."""
    money = Money(client, session, headers, ACTORS)
    assert (await money.allocate("13", 10_000_000)).status_code == 201
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    aix = await make_candidate(session, siren=AIX_SIREN)
    a = (await make_project(session, candidate=marseille, status="in_review", start_on=TODAY)).id
    b = (
        await make_project(session, candidate=aix, strand="3b", status="in_review", start_on=TODAY)
    ).id
    for project_id in (a, b):
        await money.commit(project_id, 1_000_000)
        assert (await money.convention(project_id)).status_code == 200
        assert (await money.pay(project_id, "advance", 300_000)).status_code == 201
    assert (await money.cancel(a)).status_code == 200
    assert (await money.pay(b, "instalment", 500_000)).status_code == 201
    assert (await money.final_report(b)).status_code == 200
    assert (await money.pay(b, "balance", 100_000)).status_code == 201
    assert [(await money.grant(p)).json()["net_cents"] for p in (a, b)] == [300_000, 900_000]

    envelope = await money.envelope("13")
    assert (envelope["committed_cents"], envelope["paid_cents"]) == (1_200_000, 1_200_000)
    assert ledger_sums(await money.ledger("13"))[1:] == (1_200_000, 1_200_000)

    national = await get(client, headers, NATIONAL, group_by="month")
    granted = {s["strand"]: s["granted_cents"] for s in national["by_strand"]}
    assert granted == {"3a": 0, "3b": 900_000, "3c": 300_000}
    assert [(k["kind"], k["granted_cents"]) for k in national["by_candidate_kind"]] == [
        ("commune", 1_200_000)
    ]
    assert (national["committed_cents"], national["paid_cents"]) == (1_200_000, 1_200_000)
    assert national["beneficiaries"] == 2
    assert sum(m["commitments_cents"] for m in national["series"]) == 1_200_000
    assert sum(m["commitments"] for m in national["series"]) == 2
    assert sum(m["payments_cents"] for m in national["series"]) == 1_200_000
    (thirteen,) = (await get(client, headers, DEPARTEMENTS))["items"]
    assert sum(s["granted_cents"] for s in thirteen["by_strand"]) == 1_200_000
    assert thirteen["beneficiaries"] == 2

    csv_rows = (await client.get(CSV_URL)).text.splitlines()[1:]
    assert sorted(row.split(",")[8] for row in csv_rows) == ["3000.00", "9000.00"]
    records = (await client.get(JSON_URL)).json()
    # 3 000 € and 9 000 € of 20 000 € eligible each (the factory's dossier)
    assert sorted((r["montant"], r["tauxAide"]) for r in records) == [
        (3000.0, 0.15),
        (9000.0, 0.45),
    ]


async def test_net_amounts_a_cancelled_grant_that_paid_nothing_counts_for_nothing(
    client: AsyncClient, session: AsyncSession, headers: Any
) -> None:
    money = Money(client, session, headers, ACTORS)
    assert (await money.allocate("13", 10_000_000)).status_code == 201
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    a = (await make_project(session, candidate=marseille, status="in_review", start_on=TODAY)).id
    await money.commit(a, 1_000_000)
    assert (await money.convention(a)).status_code == 200
    assert (await money.cancel(a)).status_code == 200
    national = await get(client, headers, NATIONAL, group_by="month")
    assert national["committed_cents"] == 0
    assert sum(s["granted_cents"] for s in national["by_strand"]) == 0
    assert national["by_candidate_kind"] == []  # no dossier was submitted, none granted
    assert (national["beneficiaries"], national["series"]) == (0, [])
    assert (await client.get(JSON_URL)).json() == []
