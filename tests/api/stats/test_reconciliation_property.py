"""§5, property: over random histories of decisions, payments, settlements and cancellations,
every money figure equals the ledger's, and the counters the dashboards read (issue 28) equal
their recomputation from scratch. Each example runs in its own rolled-back transaction
(`isolated_session`, as each test of the suite), writes through the API (the decision through
`commit_grant`, what a committee's close calls, as the budgets tests do) and reads through
the API: the envelopes and their ledgers, the dashboards (national, per département, by
strand, by kind, by month) and the open data (CSV and JSON).

The model below is the ledger's arithmetic: a grant's net amount is what it still commits
when active, what it paid once settled or cancelled (§5, R-CAP-5).
"""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from app.budgets.rules import share
from tests.api.budgets.driver import Money, sql_envelope_and_ledger
from tests.api.stats.counting import assert_counters_recomputed
from tests.api.stats.dataset import at
from tests.conftest import ACTORS, AIX_SIREN, MARSEILLE_SIREN, PARIS_SIREN, isolated_session
from tests.factories import make_candidate, make_project

NATIONAL = "/api/v1/stats/national"
DEPARTEMENTS = "/api/v1/stats/departements"
CSV_URL = "/api/v1/open-data/subventions.csv"
JSON_URL = "/api/v1/open-data/subventions.json"
TERRE_DE_PROVENCE = "200035087"  # an EPCI of the 13: another candidate kind
CANDIDATES = {"marseille": MARSEILLE_SIREN, "aix": AIX_SIREN, "paris": PARIS_SIREN,
              "terre": TERRE_DE_PROVENCE}  # fmt: skip
DAYS = ("2021-03-10", "2021-04-12", "2021-05-11")  # three months of decisions
BPS = 10_000
PREFECTS = {"13": ACTORS.pref13, "75": ACTORS.pref75}


@dataclass(frozen=True)
class Step:
    """One grant's history: decided on `day` for `amount`, then (with a convention) an advance
    and an instalment as fractions of what the caps allow, then kept, cancelled or settled
    (the balance a fraction of what remains)."""

    who: str
    strand: str
    day: str
    amount: int
    convention: bool
    advance_bps: int
    instalment_bps: int
    end: str
    balance_bps: int


steps = st.builds(
    Step,
    who=st.sampled_from(sorted(CANDIDATES)),
    strand=st.sampled_from(["3b", "3c"]),
    day=st.sampled_from(DAYS),
    amount=st.integers(min_value=1, max_value=1_000_000),
    convention=st.booleans(),
    advance_bps=st.integers(min_value=0, max_value=BPS),
    instalment_bps=st.integers(min_value=0, max_value=BPS),
    end=st.sampled_from(["active", "cancel", "settle"]),
    balance_bps=st.integers(min_value=0, max_value=BPS),
)


@dataclass
class Expected:
    departement: str
    strand: str
    kind: str
    who: str
    month: str
    convention: bool
    amount: int
    paid: int = 0
    closed: bool = False

    @property
    def net(self) -> int:
        """§5: granted − released; a closed grant released what it had not paid."""
        return self.paid if self.closed else self.amount


async def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def play(money: Money, step: Step, expected: Expected, pid: uuid.UUID) -> None:
    """The payments and the end of one grant, on its decision's day (R-PAY-3), by the prefect
    of its département."""
    amount, who = step.amount, PREFECTS[expected.departement]
    if step.convention:
        schedule = [
            {"label": "Solde", "kind": "balance", "due_on": step.day, "amount_cents": amount}
        ]
        await ok(await money.convention(pid, schedule=schedule, signed_on=step.day, who=who))
        advance = share(share(amount, 3_000), step.advance_bps)  # within R-PAY-1
        instalment = share(share(amount, 8_000) - advance, step.instalment_bps)  # R-PAY-2
        for kind, cents in (("advance", advance), ("instalment", instalment)):
            if cents:
                await ok(await money.pay(pid, kind, cents, paid_on=step.day, who=who), 201)
                expected.paid += cents
    if step.end == "cancel":
        await ok(await money.cancel(pid, who=who))
        expected.closed = True
    elif step.end == "settle" and step.convention:
        await ok(await money.final_report(pid, received_on=step.day, who=who))
        remaining = amount - expected.paid
        if remaining:
            balance = max(1, share(remaining, step.balance_bps))
            await ok(await money.pay(pid, "balance", balance, paid_on=step.day, who=who), 201)
            expected.paid += balance
        expected.closed = True


def sums(grants: list[Expected], key: Any, value: Any) -> dict[Any, int]:
    table: dict[Any, int] = defaultdict(int)
    for grant in grants:
        table[key(grant)] += value(grant)
    return {k: v for k, v in table.items() if v}


def check_figures(figures: dict[str, Any], grants: list[Expected]) -> None:
    """One scope's dashboard against the model and against its own envelopes."""
    net = sum(g.net for g in grants)
    assert figures["committed_cents"] == net
    assert figures["paid_cents"] == sum(g.paid for g in grants)
    by_strand = {s["strand"]: s["granted_cents"] for s in figures["by_strand"]}
    assert {k: v for k, v in by_strand.items() if v} == sums(
        grants, lambda g: g.strand, lambda g: g.net
    )
    by_kind = {k["kind"]: k["granted_cents"] for k in figures["by_candidate_kind"]}
    assert {k: v for k, v in by_kind.items() if v} == sums(
        grants, lambda g: g.kind, lambda g: g.net
    )
    assert sum(by_strand.values()) == sum(by_kind.values()) == figures["committed_cents"]
    funded = [g for g in grants if g.net > 0]
    assert figures["beneficiaries"] == len({g.who for g in funded})
    series = figures["series"]
    assert {m["month"]: m["commitments_cents"] for m in series if m["commitments_cents"]} == sums(
        grants, lambda g: g.month, lambda g: g.net
    )
    assert {m["month"]: m["commitments"] for m in series if m["commitments"]} == dict(
        Counter(g.month for g in funded)
    )
    assert {m["month"]: m["payments_cents"] for m in series if m["payments_cents"]} == sums(
        grants, lambda g: g.month, lambda g: g.paid
    )


@settings(
    max_examples=int(os.environ.get("RECONCILIATION_EXAMPLES", "200")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=st.lists(steps, max_size=4))
async def test_every_figure_reconciles_with_the_ledger(
    app: FastAPI, engine: AsyncEngine, headers: Any, clock_at: Any, history: list[Step]
) -> None:
    async with (
        isolated_session(app, engine) as session,
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        money = Money(client, session, headers, ACTORS)
        clock_at(at("2021-03-01"))
        for dep in ("13", "75"):
            await ok(await money.allocate(dep, 10_000_000), 201)
        candidates = {
            who: await make_candidate(session, siren=siren) for who, siren in CANDIDATES.items()
        }
        grants: list[Expected] = []
        for step in sorted(history, key=lambda s: s.day):
            clock_at(at(step.day))
            candidate = candidates[step.who]
            project = await make_project(
                session, candidate=candidate, strand=step.strand, status="in_review"
            )
            # what the committee's close does
            await money.commit(project.id, step.amount, who=PREFECTS[candidate.departement])
            expected = Expected(
                candidate.departement, step.strand, candidate.kind, step.who, step.day[:7],
                step.convention, step.amount,
            )  # fmt: skip
            grants.append(expected)
            await play(money, step, expected, project.id)
            if len(grants) == 1:
                # Figures read (and cached) between writes: the dashboards' cache, keyed by the
                # audit chain's head, must not answer them again after the next writes.
                national = await ok(await client.get(NATIONAL, headers=headers(ACTORS.dinum)))
                assert national["committed_cents"] == expected.net

        dinum = headers(ACTORS.dinum)
        for dep in ("13", "75"):
            mine = [g for g in grants if g.departement == dep]
            envelope = await money.envelope(dep)
            assert envelope["committed_cents"] == sum(g.net for g in mine)
            assert envelope["paid_cents"] == sum(g.paid for g in mine)
            row, ledger, _ = await sql_envelope_and_ledger(session, dep)
            assert row[1:] == ledger[1:] == (envelope["committed_cents"], envelope["paid_cents"])
        national = await ok(await client.get(NATIONAL, params={"group_by": "month"}, headers=dinum))
        check_figures(national, grants)
        items = (
            await ok(await client.get(DEPARTEMENTS, params={"group_by": "month"}, headers=dinum))
        )["items"]
        for item in items:
            check_figures(item, [g for g in grants if g.departement == item["departement"]])
        assert {i["departement"] for i in items} == {"13", "75"}

        published = sorted(g.net for g in grants if g.convention and g.net > 0)
        records = await ok(await client.get(JSON_URL))
        assert sorted(round(r["montant"] * 100) for r in records) == published
        assert all(r["tauxAide"] is None or r["tauxAide"] <= 1 for r in records)
        rows = list(csv.DictReader(io.StringIO((await client.get(CSV_URL)).text)))
        assert sorted(round(float(r["montant"]) * 100) for r in rows) == published
        # what is not published is exactly what active grants without a convention commit
        unpublished = sum(g.net for g in grants if not g.convention)
        assert sum(published) + unpublished == national["committed_cents"]
        # Issue 28: the dashboards read counters the writes kept; they are exactly their
        # recomputation from the dossiers, grants and payments alone.
        await session.run_sync(lambda s: assert_counters_recomputed(s.connection()))
