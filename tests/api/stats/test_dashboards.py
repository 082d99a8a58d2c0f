"""Dashboards (DOMAIN.md §5): exact figures on the known data set of tests/api/stats/dataset.py,
every figure asserted, on SQLite and PostgreSQL; a prefect reads its own département only
(R-ACL-1); every answer also as CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.api.stats.dataset import Builder, Dataset, build
from tests.conftest import ACTORS

NATIONAL = "/api/v1/stats/national"
DEPARTEMENTS = "/api/v1/stats/departements"
STATUSES = (
    "draft", "submitted", "in_review", "accepted", "rejected", "withdrawn", "closed",
    "under_convention", "paid", "completed", "cancelled",
)  # fmt: skip


def by_status(**counts: int) -> list[dict[str, Any]]:
    return [{"status": s, "projects": counts.get(s, 0)} for s in STATUSES]


def strands(s3b: tuple[int, int, int], s3c: tuple[int, int, int]) -> list[dict[str, Any]]:
    rows = {"3a": (0, 0, 0), "3b": s3b, "3c": s3c}
    return [
        {"strand": k, "projects": p, "requested_cents": r, "granted_cents": g}
        for k, (p, r, g) in rows.items()
    ]


EXPECTED_NATIONAL: dict[str, Any] = {
    "allocated_cents": 15_000_000,
    "committed_cents": 2_900_000,  # 13: 10 000 + 8 000 + 5 000 €; 75: 20 000 € − 14 000 € released
    "paid_cents": 900_000,
    "available_cents": 12_100_000,
    "use_rate_bps": 1933,
    "projects_by_status": by_status(
        draft=1, in_review=1, accepted=1, rejected=1, withdrawn=1, under_convention=2, cancelled=1
    ),
    # requested: submitted dossiers only (p7 is a draft); granted: net amounts (§5), p3
    # cancelled after a 6 000 € payment counts for those 6 000 €: Σ = committed
    "by_strand": strands((3, 1_900_000, 800_000), (5, 3_900_000, 2_100_000)),
    "by_candidate_kind": [
        {"kind": "commune", "requested_cents": 5_800_000, "granted_cents": 2_900_000}
    ],
    "decisions": 5,
    "median_days_to_decision": 10.0,  # 5, 7, 10, 15, 20
    "beneficiaries": 3,  # Marseille, Alleins, Paris (p3 paid 6 000 € before its cancellation)
    "small_beneficiaries": 1,  # Alleins, 2 852 inhabitants
    "small_beneficiary_share_bps": 3333,
    "agents_impacted": 18,  # p1 10 + p2 3 + p4 5 (p3, cancelled, reached no one)
    "users_impacted": 1_700,
    "series": None,
    "committees_held": 5,  # one committee per decision: 4 in the 13, 1 in the 75
    "committees_due": 0,  # R-COM-1 on 2021-05-12: nothing waits in the 13; the 75 closed 04-20
    "period_from": None,
    "period_to": None,
}
EXPECTED_13: dict[str, Any] = {
    "departement": "13",
    "allocated_cents": 10_000_000,
    "committed_cents": 2_300_000,
    "paid_cents": 300_000,
    "available_cents": 7_700_000,
    "use_rate_bps": 2300,
    "projects_by_status": by_status(accepted=1, rejected=1, withdrawn=1, under_convention=2),
    "by_strand": strands((2, 1_300_000, 800_000), (3, 1_900_000, 1_500_000)),
    "by_candidate_kind": [
        {"kind": "commune", "requested_cents": 3_200_000, "granted_cents": 2_300_000}
    ],
    "decisions": 4,
    "median_days_to_decision": 8.5,  # 5, 7, 10, 20
    "beneficiaries": 2,
    "small_beneficiaries": 1,
    "small_beneficiary_share_bps": 5000,
    "agents_impacted": 18,
    "users_impacted": 1_700,
    "series": None,
    "committees_held": 4,
    "committees_due": 0,
}
EXPECTED_75: dict[str, Any] = {
    "departement": "75",
    "allocated_cents": 5_000_000,
    "committed_cents": 600_000,
    "paid_cents": 600_000,
    "available_cents": 4_400_000,
    "use_rate_bps": 1200,
    "projects_by_status": by_status(draft=1, in_review=1, cancelled=1),
    # §5: p3, cancelled after a 6 000 € payment, counts for what it paid
    "by_strand": strands((1, 600_000, 0), (2, 2_000_000, 600_000)),
    "by_candidate_kind": [
        {"kind": "commune", "requested_cents": 2_600_000, "granted_cents": 600_000}
    ],
    "decisions": 1,
    "median_days_to_decision": 15.0,
    "beneficiaries": 1,
    "small_beneficiaries": 0,
    "small_beneficiary_share_bps": 0,
    "agents_impacted": 0,
    "users_impacted": 0,
    "series": None,
    "committees_held": 1,
    "committees_due": 0,
}
SERIES_NATIONAL = [
    {
        "month": "2021-03",
        "submissions": 3,
        "commitments": 2,
        "commitments_cents": 1_800_000,
        "payments": 1,
        "payments_cents": 300_000,
    },
    {
        # §5: p3, cancelled later after a 6 000 € payment, counts for its net amount
        "month": "2021-04",
        "submissions": 4,
        "commitments": 2,
        "commitments_cents": 1_100_000,
        "payments": 0,
        "payments_cents": 0,
    },
    {
        "month": "2021-05",
        "submissions": 0,
        "commitments": 0,
        "commitments_cents": 0,
        "payments": 1,
        "payments_cents": 600_000,
    },
]


@pytest.fixture
async def dataset(
    client: AsyncClient, session: AsyncSession, headers: Any, clock_at: Any
) -> Dataset:
    return await build(Builder(client, session, headers, clock_at))


async def get(client: AsyncClient, headers: Any, url: str, who: Any, **params: Any) -> Any:
    response = await client.get(url, params=params, headers=headers(who))
    assert response.status_code == 200, response.text
    return response.json()


async def test_national_figures(client: AsyncClient, headers: Any, dataset: Dataset) -> None:
    for who in (ACTORS.dinum, ACTORS.anct):
        assert await get(client, headers, NATIONAL, who) == EXPECTED_NATIONAL


async def test_departement_figures(client: AsyncClient, headers: Any, dataset: Dataset) -> None:
    body = await get(client, headers, DEPARTEMENTS, ACTORS.dinum)
    assert body == {"period_from": None, "period_to": None, "items": [EXPECTED_13, EXPECTED_75]}


async def test_a_prefect_sees_its_departement_only(
    client: AsyncClient, headers: Any, dataset: Dataset
) -> None:
    """R-ACL-1: the prefect of the 13 gets the 13's row, never the 75's figures."""
    body = await get(client, headers, DEPARTEMENTS, ACTORS.pref13)
    assert body["items"] == [EXPECTED_13]
    body = await get(client, headers, DEPARTEMENTS, ACTORS.pref75, group_by="month")
    assert [item["departement"] for item in body["items"]] == ["75"]
    assert body["items"][0]["committed_cents"] == 600_000
    for who in (ACTORS.pref13, ACTORS.cand_a):
        refused = await client.get(NATIONAL, headers=headers(who))
        assert refused.status_code == 403, refused.text
    refused = await client.get(DEPARTEMENTS, headers=headers(ACTORS.cand_a))
    assert refused.status_code == 403
    assert (await client.get(DEPARTEMENTS)).status_code == 401


async def test_monthly_series(client: AsyncClient, headers: Any, dataset: Dataset) -> None:
    body = await get(client, headers, NATIONAL, ACTORS.dinum, group_by="month")
    assert body["series"] == SERIES_NATIONAL
    items = (await get(client, headers, DEPARTEMENTS, ACTORS.dinum, group_by="month"))["items"]
    assert [m["month"] for m in items[0]["series"]] == ["2021-03", "2021-04"]
    assert items[1]["series"] == [
        {"month": "2021-04", "submissions": 2, "commitments": 1,
         "commitments_cents": 600_000, "payments": 0, "payments_cents": 0},
        {"month": "2021-05", "submissions": 0, "commitments": 0,
         "commitments_cents": 0, "payments": 1, "payments_cents": 600_000},
    ]  # fmt: skip
    bad = await client.get(NATIONAL, params={"group_by": "week"}, headers=headers(ACTORS.dinum))
    assert bad.status_code == 422


async def test_period_filter(client: AsyncClient, headers: Any, dataset: Dataset) -> None:
    """April 2021: dossiers submitted in April (p3, p4, p5, p8), decisions taken in April
    (p3 15 days, p4 5, p5 7), grants decided in April at their net amount (p4 5 000 €, p3
    cancelled after paying 6 000 €)."""
    body = await get(
        client, headers, NATIONAL, ACTORS.dinum, **{"from": "2021-04-01", "to": "2021-04-30"}
    )
    assert body["period_from"] == "2021-04-01" and body["period_to"] == "2021-04-30"
    assert body["projects_by_status"] == by_status(in_review=1, accepted=1, rejected=1, cancelled=1)
    assert body["by_strand"] == strands((1, 600_000, 0), (3, 2_900_000, 1_100_000))
    assert body["by_candidate_kind"] == [
        {"kind": "commune", "requested_cents": 3_500_000, "granted_cents": 1_100_000}
    ]
    assert (body["decisions"], body["median_days_to_decision"]) == (3, 7.0)
    assert (body["beneficiaries"], body["small_beneficiaries"]) == (2, 0)
    assert body["small_beneficiary_share_bps"] == 0
    assert (body["agents_impacted"], body["users_impacted"]) == (5, 500)
    assert body["committees_held"] == 3  # closed on 04-10, 04-12 (13) and 04-20 (75)
    # the envelopes are shown as they stand, whatever the period
    assert body["committed_cents"] == EXPECTED_NATIONAL["committed_cents"]
    before = await get(client, headers, NATIONAL, ACTORS.dinum, to="2021-02-28")
    assert before["decisions"] == 0 and before["median_days_to_decision"] is None
    assert before["projects_by_status"] == by_status()
    assert before["committees_held"] == 0


async def test_r_com_1_committees_due_today(
    client: AsyncClient, headers: Any, dataset: Dataset, clock_at: Any
) -> None:
    """R-COM-1: a month after the 75's close of 2021-04-20 its waiting dossier (p8) makes its
    committee due; nothing waits in the 13. Due is today's state, whatever the period."""
    clock_at("2021-05-20T10:00:00+02:00")
    national = await get(client, headers, NATIONAL, ACTORS.dinum, to="2021-02-28")
    assert national["committees_due"] == 1
    body = await get(client, headers, DEPARTEMENTS, ACTORS.anct)
    assert [(i["departement"], i["committees_due"]) for i in body["items"]] == [
        ("13", 0),
        ("75", 1),
    ]
    own = await get(client, headers, DEPARTEMENTS, ACTORS.pref75)
    assert [(i["departement"], i["committees_due"]) for i in own["items"]] == [("75", 1)]
    clock_at("2021-05-19T10:00:00+02:00")
    assert (await get(client, headers, NATIONAL, ACTORS.dinum))["committees_due"] == 0


async def test_csv_answers(client: AsyncClient, headers: Any, dataset: Dataset) -> None:
    response = await client.get(NATIONAL, headers={**headers(ACTORS.dinum), "Accept": "text/csv"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["scope", "figure", "key", "value"]
    assert ["national", "committed_cents", "", "2900000"] in rows
    assert ["national", "by_strand.granted_cents", "3c", "2100000"] in rows
    assert ["national", "projects_by_status.projects", "under_convention", "2"] in rows
    assert ["national", "median_days_to_decision", "", "10.0"] in rows
    response = await client.get(
        DEPARTEMENTS,
        params={"group_by": "month"},
        headers={**headers(ACTORS.pref13), "Accept": "text/csv, application/json;q=0.5"},
    )
    rows = list(csv.reader(io.StringIO(response.text)))
    assert {row[0] for row in rows[1:]} == {"13"}
    assert ["13", "series.commitments_cents", "2021-03", "1800000"] in rows
    # JSON stays the default, and wins when preferred
    response = await client.get(
        NATIONAL, headers={**headers(ACTORS.dinum), "Accept": "application/json, text/csv;q=0.1"}
    )
    assert response.headers["content-type"] == "application/json"


async def test_csv_and_json_write_each_figure_alike(
    client: AsyncClient, headers: Any, dataset: Dataset
) -> None:
    """Issue 27: the median was `10.0` in JSON and `10.00` in CSV; every scalar figure now
    reads the same in both forms (the JSON answer's own text of the number)."""
    answer = await client.get(NATIONAL, headers=headers(ACTORS.dinum))
    assert '"median_days_to_decision":10.0,' in answer.text
    as_csv = await client.get(NATIONAL, headers={**headers(ACTORS.dinum), "Accept": "text/csv"})
    cells = {row[1]: row[3] for row in csv.reader(io.StringIO(as_csv.text)) if row[2] == ""}
    scalars = {k: v for k, v in answer.json().items() if not isinstance(v, list)}
    assert set(cells) == set(scalars) - {"series"}
    for figure, value in scalars.items():
        if figure != "series":
            assert cells[figure] == ("" if value is None else json.dumps(value)), figure
    assert cells["median_days_to_decision"] == "10.0"


async def test_empty_figures(client: AsyncClient, headers: Any) -> None:
    body = await get(client, headers, NATIONAL, ACTORS.dinum)
    assert body["allocated_cents"] == 0 and body["use_rate_bps"] == 0
    assert body["median_days_to_decision"] is None
    assert body["small_beneficiary_share_bps"] is None
    own = await get(client, headers, DEPARTEMENTS, ACTORS.pref13)
    assert [item["departement"] for item in own["items"]] == ["13"]
    assert (await get(client, headers, DEPARTEMENTS, ACTORS.dinum))["items"] == []
