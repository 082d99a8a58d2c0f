"""A known data set built through the API, decisions included (one committee per decision,
held on the decision's day), for the dashboard and open-data tests.

Two départements, every status, grants, conventions, payments and a cancellation, on dates
chosen so that every figure is known in advance (see EXPECTED_* in the tests):

- p1 Marseille (13, 886 040 inhabitants), 3c, submitted 2021-03-01, accepted 2021-03-11 for
  10 000 €; convention 2021-03-15 (advance 3 000 € due 03-20, balance 7 000 € due 09-30);
  advance paid 2021-03-20.
- p2 Alleins (13, 2 852 inhabitants), 3b, submitted 2021-03-01, accepted 2021-03-21 for
  8 000 €; convention 2021-04-02 (one balance due 2021-10-01).
- p3 Paris (75), 3c, submitted 2021-04-05, accepted 2021-04-20 for 20 000 €; convention
  2021-05-03, advance 6 000 € paid 2021-05-10, cancelled 2021-05-12.
- p4 Marseille, 3c, submitted 2021-04-05, accepted 2021-04-10 for 5 000 €, no convention.
- p5 Alleins, 3c, submitted 2021-04-05, rejected 2021-04-12.
- p6 Marseille, 3b, submitted 2021-03-01, withdrawn 2021-03-05.
- p7 Paris, 3c, a draft.
- p8 Paris, 3b, submitted 2021-04-05, in review.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, Role
from tests.api.budgets.driver import Money
from tests.api.committees.driver import Committees
from tests.conftest import ACTORS, MARSEILLE_SIREN, PARIS_SIREN
from tests.support import file_required_documents, siret_of

ALLEINS_SIREN = "211300033"  # a commune of the 13 under 5,000 inhabitants (2,852)
CAND_ALLEINS = Principal("agent-alleins", Role.CANDIDATE, siren=ALLEINS_SIREN)
PROJECTS = "/api/v1/projects"
CANDIDATES = "/api/v1/candidates"
ENVELOPE_13 = 10_000_000
ENVELOPE_75 = 5_000_000


def at(day: str) -> str:
    """10:00 in Paris on that day (CET before the end of March, CEST after)."""
    offset = "+01:00" if day < "2021-03-28" else "+02:00"
    return f"{day}T10:00:00{offset}"


@dataclass
class Dataset:
    ids: dict[str, uuid.UUID] = field(default_factory=dict)
    candidates: dict[str, dict[str, Any]] = field(default_factory=dict)


class Builder:
    def __init__(
        self,
        client: AsyncClient,
        session: AsyncSession,
        headers: Any,
        clock_at: Any,
    ) -> None:
        self.client, self.session, self.headers, self.clock_at = client, session, headers, clock_at
        self.money = Money(client, session, headers, ACTORS)
        self.committees = Committees(client, headers, ACTORS)

    async def _ok(self, response: Any, status: int = 200) -> dict[str, Any]:
        assert response.status_code == status, response.text
        return response.json()  # type: ignore[no-any-return]

    async def register(self, who: Principal, siren: str) -> dict[str, Any]:
        return await self._ok(
            await self.client.post(
                CANDIDATES,
                json={"siret": siret_of(siren), "kind": "commune"},
                headers=self.headers(who),
            ),
            201,
        )

    async def file(
        self,
        who: Principal,
        *,
        strand: str,
        requested_cents: int,
        lines: list[dict[str, Any]],
        agents: int,
        users: int,
        title: str,
    ) -> uuid.UUID:
        body = {
            "strand": strand,
            "title": title,
            "description": "Un projet de transformation numérique.",
            "nature": "modernisation",
            "start_on": "2021-06-01",
            "end_on": "2022-06-30",
            "sponsor": {"name": "Mme la Maire", "role": "Maire"},
            "expense_lines": lines,
            "requested_cents": requested_cents,
            "agents_impacted": agents,
            "users_impacted": users,
        }
        created = await self._ok(
            await self.client.post(PROJECTS, json=body, headers=self.headers(who)), 201
        )
        return uuid.UUID(created["id"])

    async def act(self, who: Principal, project_id: uuid.UUID, action: str) -> None:
        etag = await self.money.etag(project_id)
        await self._ok(
            await self.client.post(
                f"{PROJECTS}/{project_id}/{action}",
                headers={**self.headers(who), "If-Match": etag},
            )
        )

    async def submit(self, who: Principal, project_id: uuid.UUID, day: str) -> None:
        self.clock_at(at(day))
        await file_required_documents(self.client, self.headers(who), project_id)  # R-DOC-1
        await self.act(who, project_id, "submit")

    async def review(self, prefect: Principal, project_id: uuid.UUID) -> None:
        await self.act(prefect, project_id, "start-review")

    async def decide(
        self,
        prefect: Principal,
        project_id: uuid.UUID,
        day: str,
        outcome: str,
        cents: int | None = None,
        motivation: str | None = None,
    ) -> dict[str, Any]:
        """A committee of `prefect`'s département held on `day` decides this dossier alone and
        closes (R-COM-3). Returns the closed committee."""
        self.clock_at(at(day))
        committee_id = await self.committees.new(who=prefect, meeting_on=day)
        await self._ok(await self.committees.agenda(committee_id, [project_id], who=prefect))
        await self._ok(
            await self.committees.decide(
                committee_id, project_id, outcome, cents, motivation, who=prefect
            )
        )
        return await self._ok(await self.committees.close(committee_id, who=prefect))

    async def accept(self, prefect: Principal, project_id: uuid.UUID, day: str, cents: int) -> None:
        await self.decide(prefect, project_id, day, "accepted", cents)

    async def reject(self, prefect: Principal, project_id: uuid.UUID, day: str) -> None:
        await self.decide(prefect, project_id, day, "rejected", None, "Projet insuffisamment mûr.")

    async def convention(
        self,
        prefect: Principal,
        project_id: uuid.UUID,
        day: str,
        schedule: list[dict[str, Any]],
        reference: str,
    ) -> None:
        self.clock_at(at(day))
        response = await self.money.convention(
            project_id, who=prefect, schedule=schedule, reference=reference, signed_on=day
        )
        await self._ok(response)

    async def pay(
        self, prefect: Principal, project_id: uuid.UUID, day: str, kind: str, cents: int
    ) -> None:
        self.clock_at(at(day))
        await self._ok(await self.money.pay(project_id, kind, cents, who=prefect, paid_on=day), 201)


def dev_line(cents: int) -> dict[str, Any]:
    return {"category": "development", "label": "Développement", "amount_cents": cents}


async def build(builder: Builder) -> Dataset:
    """The data set of the module docstring, every step through the API."""
    pref13, pref75 = ACTORS.pref13, ACTORS.pref75
    marseille, paris, alleins = ACTORS.cand_a, ACTORS.cand_paris, CAND_ALLEINS
    data = Dataset()
    builder.clock_at(at("2021-02-20"))
    assert (await builder.money.allocate("13", ENVELOPE_13)).status_code == 201
    assert (await builder.money.allocate("75", ENVELOPE_75)).status_code == 201
    data.candidates["marseille"] = await builder.register(marseille, MARSEILLE_SIREN)
    data.candidates["paris"] = await builder.register(paris, PARIS_SIREN)
    data.candidates["alleins"] = await builder.register(alleins, ALLEINS_SIREN)

    ids = data.ids
    ids["p1"] = await builder.file(
        marseille,
        strand="3c",
        requested_cents=1_000_000,
        lines=[dev_line(2_000_000)],
        agents=10,
        users=1_000,
        title="Prise de rendez-vous en ligne",
    )
    ids["p2"] = await builder.file(
        alleins,
        strand="3b",
        requested_cents=800_000,
        lines=[
            dev_line(1_600_000),
            {
                "category": "software_licence",
                "label": "Licence",
                "amount_cents": 100_000,
                "vendor_origin": "extra_eu",
            },
        ],
        agents=3,
        users=200,
        title="Formation des agents au numérique",
    )
    ids["p6"] = await builder.file(
        marseille,
        strand="3b",
        requested_cents=500_000,
        lines=[dev_line(1_000_000)],
        agents=7,
        users=70,
        title="Projet retiré",
    )
    for key, who in (("p1", marseille), ("p2", alleins), ("p6", marseille)):
        await builder.submit(who, ids[key], "2021-03-01")
    builder.clock_at(at("2021-03-05"))
    await builder.act(marseille, ids["p6"], "withdraw")
    await builder.review(pref13, ids["p1"])
    await builder.review(pref13, ids["p2"])
    await builder.accept(pref13, ids["p1"], "2021-03-11", 1_000_000)
    await builder.convention(
        pref13,
        ids["p1"],
        "2021-03-15",
        [
            {"label": "Avance", "kind": "advance", "due_on": "2021-03-20", "amount_cents": 300_000},
            {"label": "Solde", "kind": "balance", "due_on": "2021-09-30", "amount_cents": 700_000},
        ],
        "CRTE-13-2021-001",
    )
    await builder.pay(pref13, ids["p1"], "2021-03-20", "advance", 300_000)
    await builder.accept(pref13, ids["p2"], "2021-03-21", 800_000)
    await builder.convention(
        pref13,
        ids["p2"],
        "2021-04-02",
        [{"label": "Solde", "kind": "balance", "due_on": "2021-10-01", "amount_cents": 800_000}],
        "CRTE-13-2021-002",
    )

    ids["p3"] = await builder.file(
        paris,
        strand="3c",
        requested_cents=2_000_000,
        lines=[dev_line(4_000_000)],
        agents=100,
        users=50_000,
        title="Portail citoyen",
    )
    ids["p4"] = await builder.file(
        marseille,
        strand="3c",
        requested_cents=500_000,
        lines=[dev_line(1_000_000)],
        agents=5,
        users=500,
        title="Dématérialisation de l'état civil",
    )
    ids["p5"] = await builder.file(
        alleins,
        strand="3c",
        requested_cents=400_000,
        lines=[dev_line(800_000)],
        agents=2,
        users=100,
        title="Projet refusé",
    )
    ids["p7"] = await builder.file(
        paris,
        strand="3c",
        requested_cents=300_000,
        lines=[dev_line(600_000)],
        agents=1,
        users=10,
        title="Brouillon",
    )
    ids["p8"] = await builder.file(
        paris,
        strand="3b",
        requested_cents=600_000,
        lines=[dev_line(1_200_000)],
        agents=4,
        users=40,
        title="En instruction",
    )
    for key, who in (("p3", paris), ("p4", marseille), ("p5", alleins), ("p8", paris)):
        await builder.submit(who, ids[key], "2021-04-05")
    builder.clock_at(at("2021-04-06"))
    for key, prefect in (("p3", pref75), ("p4", pref13), ("p5", pref13), ("p8", pref75)):
        await builder.review(prefect, ids[key])
    await builder.accept(pref13, ids["p4"], "2021-04-10", 500_000)
    await builder.reject(pref13, ids["p5"], "2021-04-12")
    await builder.accept(pref75, ids["p3"], "2021-04-20", 2_000_000)
    await builder.convention(
        pref75,
        ids["p3"],
        "2021-05-03",
        [
            {"label": "Avance", "kind": "advance", "due_on": "2021-05-10", "amount_cents": 600_000},
            {
                "label": "Solde",
                "kind": "balance",
                "due_on": "2022-06-30",
                "amount_cents": 1_400_000,
            },
        ],
        "CONV-75-2021-003",
    )
    await builder.pay(pref75, ids["p3"], "2021-05-10", "advance", 600_000)
    builder.clock_at(at("2021-05-12"))
    response = await builder.money.cancel(ids["p3"], who=pref75)
    assert response.status_code == 200, response.text
    return data
