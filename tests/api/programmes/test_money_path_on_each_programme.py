"""Issue 26: the money path runs on each programme, through the API only, with every figure read
from the programme itself (R-PROG-1): its window (the service's clock inside it), its strands'
cap rates (R-CAP-1), its committee threshold (R-COM-1), its grids (R-EVAL-1), the documents it
asks for (R-DOC-1), its advance cap (R-PAY-1) and its SCDL `dispositifAide`. The grant is
committed from that programme's envelope of the 13, never the other's (R-PROG-2), and keeps
the terms it was decided under (R-PAY-4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from httpx import AsyncClient

from app.core import clock
from tests.api.budgets.driver import PREFECTURES
from tests.api.committees.driver import MEMBERS
from tests.api.programmes.conftest import FITN7, NT
from tests.conftest import MARSEILLE_SIREN, Actors
from tests.support import file_required_documents, siret_of

API = "/api/v1"
COST = 4_000_000  # one line of development, a category of both programmes


@dataclass(frozen=True)
class Call:
    code: str
    day: str  # inside its window: the dossier starts the day it is filed (R-ELIG-8)
    strand: str
    end_on: str


CALLS = [
    Call(FITN7, "2021-03-01T10:00:00+01:00", "3c", "2022-06-30"),
    Call(NT, "2026-03-02T10:00:00+01:00", "services", "2027-06-30"),
]


def envelope_figures(body: dict[str, Any]) -> tuple[int, int, int]:
    return body["allocated_cents"], body["committed_cents"], body["paid_cents"]


@pytest.mark.parametrize("call", CALLS, ids=[c.code for c in CALLS])
async def test_r_prog_2_the_money_path_on_each_programme(
    client: AsyncClient, headers: Any, actors: Actors, clock_at: Any, call: Call
) -> None:
    clock_at(call.day)
    dinum, pref, cand = headers(actors.dinum), headers(actors.pref13), headers(actors.cand_a)
    other = NT if call.code == FITN7 else FITN7
    mine, theirs = {"programme": call.code}, {"programme": other}
    programme = (await client.get(f"{API}/programmes/{call.code}")).json()
    strand = next(s for s in programme["strands"] if s["code"] == call.strand)
    rate = strand["funding_cap_rate_bps"] or programme["funding_cap_rate_bps"]
    granted = COST * rate // 10_000 // 2  # half of what the strand's cap allows

    # DINUM funds the 13 on both programmes; only this one's envelope will move
    for params in (mine, theirs):
        allocated = await client.post(
            f"{API}/envelopes/13/allocations",
            params=params,
            json={"kind": "allocation", "amount_cents": 10_000_000, "reference": "Arrêté 2026"}
            | PREFECTURES["13"],
            headers=dinum,
        )
        assert allocated.status_code == 201, allocated.text
    registered = await client.post(
        f"{API}/candidates",
        json={"siret": siret_of(MARSEILLE_SIREN), "kind": "commune"},
        headers=cand,
    )
    assert registered.status_code == 201, registered.text

    # R-COM-1: the programme's own threshold of submitted dossiers makes the 13 due
    threshold = programme["committee_filing_threshold"]
    dossiers = []
    for n in range(threshold):
        filed = await client.post(
            f"{API}/projects",
            json={
                "programme": call.code,
                "strand": call.strand,
                "title": f"Démarches en ligne n° {n + 1}",
                "description": "Prise de rendez-vous et démarches d'état civil en ligne.",
                "nature": "modernisation",
                "start_on": clock.today().isoformat(),
                "end_on": call.end_on,
                "sponsor": {"name": "Mme la Maire", "role": "Maire"},
                "expense_lines": [
                    {"category": "development", "label": "Développement", "amount_cents": COST}
                ],
                "requested_cents": granted,
            },
            headers=cand,
        )
        assert filed.status_code == 201, filed.text
        assert filed.json()["programme"] == call.code
        project_id = filed.json()["id"]
        await file_required_documents(client, cand, project_id)  # the programme's R-DOC-1
        etag = (await client.get(f"{API}/projects/{project_id}", headers=cand)).headers["ETag"]
        submitted = await client.post(
            f"{API}/projects/{project_id}/submit", headers={**cand, "If-Match": etag}
        )
        assert submitted.status_code == 200, submitted.text
        dossiers.append(project_id)
    status = await client.get(f"{API}/committees/status", params=mine, headers=pref)
    (row,) = [r for r in status.json()["items"] if r["departement"] == "13"]
    assert (row["due"], row["reason"], row["submitted_since_last"]) == (
        True,
        "threshold",
        threshold,
    )
    report = (await client.get(f"{API}/projects/{dossiers[0]}/eligibility", headers=pref)).json()
    assert report["funding_cap_cents"] == COST * rate // 10_000  # R-CAP-1: the strand's rate

    # instruction, the programme's grid (R-EVAL-1), a committee of this programme
    chosen = dossiers[0]
    etag = (await client.get(f"{API}/projects/{chosen}", headers=pref)).headers["ETag"]
    started = await client.post(
        f"{API}/projects/{chosen}/start-review", headers={**pref, "If-Match": etag}
    )
    assert started.status_code == 200, started.text
    (grid,) = [g for g in programme["grids"] if g["strand"] == call.strand]
    evaluated = await client.post(
        f"{API}/projects/{chosen}/evaluations",
        json={
            "conflict_of_interest": False,
            "scores": {c["code"]: 4 for c in grid["criteria"]},
            "recommendation": "fund",
            "comments": "Dossier solide.",
        },
        headers=pref,
    )
    assert evaluated.status_code == 201, evaluated.text
    planned = await client.post(
        f"{API}/committees",
        json={
            "programme": call.code,
            "meeting_on": clock.today().isoformat(),
            "members": MEMBERS,
        },
        headers=pref,
    )
    assert planned.status_code == 201, planned.text
    committee = f"{API}/committees/{planned.json()['id']}"

    async def on_committee(path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        etag = (await client.get(committee, headers=pref)).headers["ETag"]
        answer = await client.post(
            f"{committee}{path}", json=body, headers={**pref, "If-Match": etag}
        )
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    await on_committee("/agenda", {"add": [chosen], "remove": []})
    await on_committee(
        "/decisions", {"project_id": chosen, "outcome": "accepted", "granted_cents": granted}
    )
    assert (await on_committee("/close"))["status"] == "closed"

    # the grant is this programme's: its envelope committed it, the other's did not move
    mine_now = await client.get(f"{API}/envelopes/13", params=mine, headers=dinum)
    theirs_now = await client.get(f"{API}/envelopes/13", params=theirs, headers=dinum)
    assert envelope_figures(mine_now.json()) == (10_000_000, granted, 0)
    assert envelope_figures(theirs_now.json()) == (10_000_000, 0, 0)
    grant = (await client.get(f"{API}/projects/{chosen}/grant", headers=pref)).json()
    assert grant["amount_cents"] == granted
    terms = grant["terms"]  # R-PAY-4: as the programme stood at the decision
    assert (terms["aid_rate_bps"], terms["advance_cap_bps"]) == (
        rate,
        programme["advance_cap_bps"],
    )

    # convention, the programme's advance cap (R-PAY-1), final report, balance: completed
    advance = granted * programme["advance_cap_bps"] // 10_000
    today = clock.today().isoformat()
    await file_required_documents(client, pref, chosen, step="convention")
    etag = (await client.get(f"{API}/projects/{chosen}", headers=pref)).headers["ETag"]
    signed = await client.post(
        f"{API}/projects/{chosen}/convention",
        json={
            "reference": f"CONV-13-{call.code}",
            "kind": "crte",
            "signed_on": today,
            "schedule": [
                {"label": "Avance", "kind": "advance", "due_on": today, "amount_cents": advance},
                {
                    "label": "Solde",
                    "kind": "balance",
                    "due_on": today,
                    "amount_cents": granted - advance,
                },
            ],
        },
        headers={**pref, "If-Match": etag},
    )
    assert signed.status_code == 200, signed.text
    too_much = await client.post(
        f"{API}/projects/{chosen}/payments",
        json={"kind": "advance", "amount_cents": advance + 1, "paid_on": today},
        headers=pref,
    )
    assert too_much.status_code in (409, 422), too_much.text
    assert too_much.json()["code"] == "R-PAY-1"
    paid = await client.post(
        f"{API}/projects/{chosen}/payments",
        json={"kind": "advance", "amount_cents": advance, "paid_on": today},
        headers=pref,
    )
    assert paid.status_code == 201, paid.text
    await file_required_documents(client, pref, chosen, step="final_report")
    etag = (await client.get(f"{API}/projects/{chosen}", headers=pref)).headers["ETag"]
    reported = await client.post(
        f"{API}/projects/{chosen}/final-report",
        json={"received_on": today, "summary": "Service en ligne ouvert."},
        headers={**pref, "If-Match": etag},
    )
    assert reported.status_code == 200, reported.text
    balance = await client.post(
        f"{API}/projects/{chosen}/payments",
        json={"kind": "balance", "amount_cents": granted - advance, "paid_on": today},
        headers=pref,
    )
    assert balance.status_code == 201, balance.text
    read = (await client.get(f"{API}/projects/{chosen}", headers=cand)).json()
    assert read["status"] == "completed"
    assert envelope_figures(
        (await client.get(f"{API}/envelopes/13", params=mine, headers=dinum)).json()
    ) == (10_000_000, granted, granted)

    # the open data lists it under this programme's dispositif, and only there
    rows = (
        await client.get(f"{API}/open-data/subventions.json", params=mine, headers=dinum)
    ).json()
    assert [(r["montant"], r["dispositifAide"]) for r in rows] == [
        (granted / 100, programme["dispositif_aide"])
    ]
    elsewhere = await client.get(f"{API}/open-data/subventions.json", params=theirs)
    assert elsewhere.json() == []
