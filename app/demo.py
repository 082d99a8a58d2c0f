"""Demonstration data (`python -m app demo`, run by `make run` on an empty database).

Everything goes through the API the service exposes (routers, services, rules, audit), in
process, with development tokens of the roles a front-end would meet: the data set is one the
rules accept, and it replays the same way on every fresh database. Never in production.

Three départements (13, 33, 75) with their envelopes; candidates from the bundled reference
data: communes of several sizes, two EPCI, and a syndicat the reference cannot confirm (left
`to_verify` for the prefect of the 13 to decide); in each département and for each strand
(3a, 3b, 3c) a dossier in every state of R-FLOW-1, evaluations of the dossiers under review,
one closed committee per département that accepted and rejected dossiers (R-COM-3), then
conventions, payments, a final report and a cancellation. Before each step that asks for
documents (R-DOC-1: submission, convention, final report) the loader files them, as
`file_required_documents` does for the tests and the benchmarks too.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlmodel import col
from stdnum import luhn

import app.models  # noqa: F401 - every table, for the foreign keys of the ones read here
from app.candidates.models import Candidate
from app.core.config import Settings
from app.core.security import encode_access_token
from app.projects.lifecycle_rules import Status
from app.projects.models import Project

API = "/api/v1"
STATE_SIREN = "130025265"  # the State: the prefectures' establishments


class DemoRefused(Exception):
    """The demo data cannot be loaded here (production, or a database already in use)."""


@dataclass(frozen=True)
class Who:
    role: str
    sub: str
    departement: str | None = None
    siren: str | None = None


@dataclass(frozen=True)
class Organisation:
    key: str
    siren: str
    kind: str
    departement: str
    name: str | None = None  # only for what the reference does not know (a syndicat)

    @property
    def agent(self) -> Who:
        return Who("candidate", f"demo-agent-{self.key}", siren=self.siren)


def siret_of(siren: str, establishment: str = "0001") -> str:
    """A valid SIRET for this SIREN (NIC = establishment number + Luhn key)."""
    body = siren + establishment
    return body + str(luhn.calc_check_digit(body))


def _siren_with_key(prefix: str) -> str:
    return prefix + str(luhn.calc_check_digit(prefix))


DEPARTEMENTS = ("13", "33", "75")
DINUM = Who("dinum", "demo-dinum")
ANCT = Who("anct", "demo-anct")
PREFECTS = {dep: Who("prefect", f"demo-prefet-{dep}", departement=dep) for dep in DEPARTEMENTS}
ENVELOPES_CENTS = {"13": 150_000_000, "33": 120_000_000, "75": 100_000_000}
PREFECTURES = {
    "13": "Préfecture des Bouches-du-Rhône",
    "33": "Préfecture de la Gironde",
    "75": "Préfecture de la région d'Île-de-France, préfecture de Paris",
}
SYNDICAT = Organisation(
    "syndicat-13",
    _siren_with_key("25130001"),
    "syndicat",
    "13",
    name="Syndicat mixte numérique de Provence",
)
# The candidates whose dossiers make the data set, per département: a large and a small
# commune, an EPCI (Paris is commune and département at once: one candidate).
ORGANISATIONS = [
    Organisation("aix", "211300017", "commune", "13"),  # Aix-en-Provence, 149 695 hab.
    Organisation("alleins", "211300033", "commune", "13"),  # Alleins, 2 852 hab.
    Organisation("terre-de-provence", "200035087", "epci", "13"),  # CA Terre de Provence
    Organisation("bordeaux", "213300635", "commune", "33"),  # Bordeaux, 267 991 hab.
    Organisation("sauternes", "213305048", "commune", "33"),  # Sauternes, 788 hab.
    Organisation("bordeaux-metropole", "243300316", "epci", "33"),  # Bordeaux Métropole
    Organisation("paris", "217500016", "commune", "75"),  # Paris, 2 103 778 hab.
]
STRANDS = ("3a", "3b", "3c")
CATEGORY = {"3a": "consulting", "3b": "training", "3c": "development"}
TITLES = {
    "3a": "Accompagnement à la définition du schéma directeur numérique",
    "3b": "Formation des agents aux outils collaboratifs",
    "3c": "Prise de rendez-vous en ligne pour l'état civil",
}
# Every state of R-FLOW-1 a dossier can be left in, in each département and each strand.
TARGETS = (
    Status.DRAFT,
    Status.SUBMITTED,
    Status.IN_REVIEW,
    Status.WITHDRAWN,
    Status.CLOSED,
    Status.REJECTED,
    Status.ACCEPTED,
    Status.UNDER_CONVENTION,
    Status.COMPLETED,
    Status.CANCELLED,
)
DECIDED = {Status.ACCEPTED, Status.UNDER_CONVENTION, Status.COMPLETED, Status.CANCELLED}
MEMBERS = [
    {"name": "M. le Préfet", "role": "Préfet"},
    {"name": "Mme la Sous-préfète", "role": "Sous-préfète à la relance"},
]
# R-CAP-3: 3a is a forfait (5 000 € for the smallest communes): ask for it.
REQUESTED_CENTS = {"3a": 500_000, "3b": 1_500_000, "3c": 2_000_000}


# A small valid PDF, a type every kind of document of the FITN7 programme allows (R-DOC-2).
STUB_PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n"


async def file_required_documents(
    client: httpx.AsyncClient,
    headers: Mapping[str, str],
    project_id: object,
    *,
    step: str = "submission",
    api: str = API,
) -> list[dict[str, Any]]:
    """R-DOC-1 through the API, as a front-end would: for each document the dossier's programme
    (`GET /programmes/{code}`, its `required_documents`) asks of this dossier at `step` — for its
    strand and its candidate's kind, a per-line kind once per expense line above its threshold
    — that the dossier (or, for a candidate's document, its candidate) does not hold yet, upload
    a small PDF as the holder of `headers` (the candidate at submission, the prefect after).
    Returns the documents filed; raises RuntimeError on any refusal."""

    async def read(path: str) -> Any:
        response = await client.get(f"{api}{path}", headers=dict(headers))
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text}")
        return response.json()

    async def current(path: str) -> set[tuple[str, str | None]]:
        page = await read(f"{path}/documents?limit=200")
        return {(d["kind"], d["expense_line_id"]) for d in page["items"] if not d["superseded_at"]}

    project = await read(f"/projects/{project_id}")
    programme = await read(f"/programmes/{project['programme']}")  # R-PROG-2: its own call
    wanted = [r for r in programme["required_documents"] if r["step"] == step]
    kind = None
    if any(r["candidate_kinds"] is not None for r in wanted):
        kind = (await read(f"/candidates/{project['candidate_id']}"))["kind"]
    wanted = [
        r
        for r in wanted
        if (r["strands"] is None or project["strand"] in r["strands"])
        and (r["candidate_kinds"] is None or kind in r["candidate_kinds"])
    ]
    owners = {
        "project": f"/projects/{project['id']}",
        "candidate": f"/candidates/{project['candidate_id']}",
    }
    held = {
        owner: await current(path)
        for owner, path in owners.items()
        if any(r["owner"] == owner for r in wanted)
    }
    filed: list[dict[str, Any]] = []
    for required in wanted:
        threshold = required["per_line_above_cents"]
        lines: list[str | None] = (
            [None]
            if threshold is None
            else [
                str(line["id"])
                for line in project["expense_lines"]
                if line["amount_cents"] > threshold
            ]
        )
        for line in lines:
            if (required["code"], line) in held[required["owner"]]:
                continue
            data = {"kind": required["code"]}
            if line is not None:
                data["expense_line_id"] = line
            # Distinct bytes for each document: its own hash, its own stored object.
            content = STUB_PDF + f"% {required['code']} {line or project['id']}\n".encode()
            path = f"{owners[required['owner']]}/documents"
            response = await client.post(
                f"{api}{path}",
                data=data,
                files={"file": (f"{required['code']}.pdf", content, "application/pdf")},
                headers=dict(headers),
            )
            if response.status_code != 201:
                raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
            filed.append(response.json())
    return filed


@dataclass
class Loaded:
    """What the loader made: dossiers per (département, strand, state), and counts."""

    dossiers: dict[tuple[str, str, str], str] = field(default_factory=dict)
    candidates: dict[str, str] = field(default_factory=dict)
    committees: list[str] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        return Counter(state for (_, _, state) in self.dossiers)


class Loader:
    def __init__(self, client: httpx.AsyncClient, settings: Settings) -> None:
        self.client, self.settings = client, settings
        self.loaded = Loaded()
        self.requested: dict[str, int] = {}

    def headers(self, who: Who, **extra: str) -> dict[str, str]:
        token = encode_access_token(
            self.settings,
            sub=who.sub,
            role=who.role,
            departement=who.departement,
            siren=who.siren,
            ttl_seconds=600,
        )
        return {"Authorization": f"Bearer {token}", **extra}

    async def call(
        self, method: str, path: str, who: Who, *, json: Any = None, etag: str | None = None
    ) -> httpx.Response:
        extra = {"If-Match": etag} if etag else {}
        if method == "POST" and etag is None:
            extra["Idempotency-Key"] = str(uuid.uuid4())
        response = await self.client.request(
            method, f"{API}{path}", json=json, headers=self.headers(who, **extra)
        )
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response

    async def documents(self, project_id: str, who: Who, step: str) -> None:
        """R-DOC-1: what the dossier's next step asks for, filed by `who`."""
        await file_required_documents(self.client, self.headers(who), project_id, step=step)

    async def etag(self, path: str, who: Who) -> str:
        return str((await self.call("GET", path, who)).headers["ETag"])

    # -- steps -----------------------------------------------------------------------------

    async def envelopes(self) -> None:
        for dep, cents in ENVELOPES_CENTS.items():
            await self.call(
                "POST",
                f"/envelopes/{dep}/allocations",
                DINUM,
                json={
                    "kind": "allocation",
                    "amount_cents": cents,
                    "reference": f"Arrêté de délégation FITN7 axe 3 — {dep}",
                    "prefecture_name": PREFECTURES[dep],
                    "prefecture_siret": siret_of(STATE_SIREN, f"00{dep}"),
                },
            )

    async def candidates(self) -> None:
        for org in [*ORGANISATIONS, SYNDICAT]:
            body: dict[str, Any] = {"siret": siret_of(org.siren), "kind": org.kind}
            if org.name is not None:
                body |= {"name": org.name, "departement": org.departement}
            created = await self.call("POST", "/candidates", org.agent, json=body)
            self.loaded.candidates[org.key] = created.json()["id"]

    async def file(self, org: Organisation, strand: str, target: Status) -> str:
        body = {
            "strand": strand,
            "title": TITLES[strand],
            "description": f"Projet de démonstration ({strand}), destiné à l'état {target}.",
            "nature": "modernisation",
            # R-PAY-3: a project completed today started by today (the day it is submitted,
            # R-ELIG-8); the others start later in the year.
            "start_on": await self.service_day() if target == Status.COMPLETED else "2021-06-01",
            "end_on": "2022-06-30",
            "sponsor": {"name": "Mme la Maire", "role": "Maire"},
            "expense_lines": [
                {
                    "category": CATEGORY[strand],
                    "label": "Prestation",
                    "amount_cents": 2 * REQUESTED_CENTS[strand],
                }
            ],
            "requested_cents": REQUESTED_CENTS[strand],
            "agents_impacted": 12,
            "users_impacted": 2_500,
        }
        created = await self.call("POST", "/projects", org.agent, json=body)
        project_id = str(created.json()["id"])
        self.requested[project_id] = REQUESTED_CENTS[strand]
        return project_id

    async def act(self, project_id: str, action: str, who: Who, json: Any = None) -> None:
        etag = await self.etag(f"/projects/{project_id}", who)
        await self.call("POST", f"/projects/{project_id}/{action}", who, json=json, etag=etag)

    async def advised_strands(self) -> set[str]:
        """R-EVAL-3: the strands of the programme whose advisors name ANCT (its data)."""
        programme = (await self.call("GET", "/programme", DINUM)).json()
        return {s["code"] for s in programme["strands"] if ANCT.role in s["advisors"]}

    async def evaluate(self, project_id: str, strand: str, who: Who) -> None:
        from app.programme.seed import GENERAL_CRITERIA, STRANDS as SEEDED

        (own,) = [s for s in SEEDED if s["code"] == strand]
        codes = [c["code"] for c in GENERAL_CRITERIA] + [c["code"] for c in own["criteria"]]
        await self.call(
            "POST",
            f"/projects/{project_id}/evaluations",
            who,
            json={
                "conflict_of_interest": False,
                "scores": dict.fromkeys(codes, 4),
                "recommendation": "fund",
                "comments": "Dossier solide, équipe projet identifiée.",
            },
        )

    async def committee(
        self, dep: str, decisions: list[tuple[str, Status]], meeting_on: str
    ) -> None:
        prefect = PREFECTS[dep]
        created = await self.call(
            "POST", "/committees", prefect, json={"meeting_on": meeting_on, "members": MEMBERS}
        )
        committee = f"/committees/{created.json()['id']}"
        self.loaded.committees.append(created.json()["id"])
        await self.call(
            "POST",
            f"{committee}/agenda",
            prefect,
            json={"add": [p for p, _ in decisions], "remove": []},
            etag=await self.etag(committee, prefect),
        )
        for project_id, target in decisions:
            body: dict[str, Any] = {"project_id": project_id}
            if target in DECIDED:
                body |= {"outcome": "accepted", "granted_cents": self.requested[project_id]}
            else:
                body |= {"outcome": "rejected", "motivation": "Projet insuffisamment mûr."}
            await self.call(
                "POST",
                f"{committee}/decisions",
                prefect,
                json=body,
                etag=await self.etag(committee, prefect),
            )
        await self.call(
            "POST", f"{committee}/close", prefect, etag=await self.etag(committee, prefect)
        )

    async def after_decision(self, project_id: str, target: Status, today: str) -> None:
        prefect_of = await self.call("GET", f"/projects/{project_id}", DINUM)
        prefect = PREFECTS[prefect_of.json()["departement"]]
        granted = self.requested[project_id]
        half = granted * 3 // 10  # R-PAY-1: an advance of 30 % at most
        if target in (Status.UNDER_CONVENTION, Status.COMPLETED, Status.CANCELLED):
            await self.documents(project_id, prefect, "convention")
            await self.act(
                project_id,
                "convention",
                prefect,
                json={
                    "reference": f"CRTE-{project_id[:8]}",
                    "kind": "crte",
                    "signed_on": today,
                    "schedule": [
                        {
                            "label": "Avance",
                            "kind": "advance",
                            "due_on": today,
                            "amount_cents": half,
                        },
                        {
                            "label": "Solde",
                            "kind": "balance",
                            "due_on": "2022-06-30",
                            "amount_cents": granted - half,
                        },
                    ],
                },
            )
            await self.call(
                "POST",
                f"/projects/{project_id}/payments",
                prefect,
                json={"kind": "advance", "amount_cents": half, "paid_on": today},
            )
        if target == Status.CANCELLED:
            await self.act(
                project_id,
                "cancel",
                prefect,
                json={"reason": "Projet abandonné par la collectivité."},
            )
        if target == Status.COMPLETED:
            await self.documents(project_id, prefect, "final_report")
            await self.act(
                project_id,
                "final-report",
                prefect,
                json={"received_on": today, "summary": "Service en ligne ouvert aux usagers."},
            )
            await self.call(
                "POST",
                f"/projects/{project_id}/payments",
                prefect,
                json={
                    "kind": "balance",
                    "amount_cents": granted - half,
                    "paid_on": today,
                },
            )

    async def run(self) -> Loaded:
        await self.envelopes()
        await self.candidates()
        # R-REF-2: the syndicat stays to verify; the prefect of the 13 will decide.
        to_decide: dict[str, list[tuple[str, Status]]] = {dep: [] for dep in DEPARTEMENTS}
        plan: list[tuple[str, str, Status, str]] = []
        # Every state of every strand once, the dossiers dealt round the candidates (and so
        # the départements) in turn.
        turn = 0
        advised = await self.advised_strands()
        for strand in STRANDS:
            for target in TARGETS:
                org = ORGANISATIONS[turn % len(ORGANISATIONS)]
                dep = org.departement
                turn += 1
                project_id = await self.file(org, strand, target)
                self.loaded.dossiers[(dep, strand, target.value)] = project_id
                plan.append((dep, strand, target, project_id))
                if target == Status.DRAFT:
                    continue
                await self.documents(project_id, org.agent, "submission")
                await self.act(project_id, "submit", org.agent)
                if target == Status.SUBMITTED:
                    continue
                if target == Status.WITHDRAWN:
                    await self.act(project_id, "withdraw", org.agent)
                    continue
                await self.act(project_id, "start-review", PREFECTS[dep])
                await self.evaluate(project_id, strand, PREFECTS[dep])
                if strand in advised:  # ANCT's advisory evaluation where it advises (R-EVAL-3)
                    await self.evaluate(project_id, strand, ANCT)
                if target == Status.CLOSED:
                    await self.act(
                        project_id,
                        "close",
                        PREFECTS[dep],
                        json={"reason": "Classé sans suite : doublon d'un autre dossier."},
                    )
                elif target != Status.IN_REVIEW:
                    to_decide[dep].append((project_id, target))
        day = await self.service_day()
        for dep in DEPARTEMENTS:
            if to_decide[dep]:
                await self.committee(dep, to_decide[dep], day)
        for _dep, _strand, target, project_id in plan:
            if target in DECIDED and target != Status.ACCEPTED:
                await self.after_decision(project_id, target, day)
        return self.loaded

    async def service_day(self) -> str:
        """The service's day in Paris (its clock may be a demonstration one, R-ELIG-8)."""
        from app.core import clock

        return clock.today().isoformat()


async def database_state(app: FastAPI) -> str:
    """ "empty", "demo" (the demo data is there) or "used" (other data)."""
    async with app.state.sessionmaker() as session:
        candidates = (await session.execute(select(func.count()).select_from(Candidate))).scalar()
        projects = (await session.execute(select(func.count()).select_from(Project))).scalar()
        demo = (
            await session.execute(
                select(func.count())
                .select_from(Candidate)
                .where(col(Candidate.siren) == ORGANISATIONS[0].siren)
            )
        ).scalar()
    if not candidates and not projects:
        return "empty"
    return "demo" if demo else "used"


async def load(settings: Settings) -> Loaded:
    """Load the demo data set into the database of `settings` (migrated and seeded).

    Raises DemoRefused in production, or when the database holds data already.
    """
    from app.core.clock import use_clock
    from app.core.db import start_clock
    from app.main import create_app

    if settings.environment == "production":
        raise DemoRefused("Les données de démonstration sont refusées en production.")
    quiet = settings.model_copy(
        update={"rate_limit_enabled": False, "webhook_worker_enabled": False, "access_log": False}
    )
    app = create_app(quiet)
    try:
        await start_clock(app)
        use_clock(app.state.clock)  # the service's day, for the dates of the data set
        state = await database_state(app)
        if state == "demo":
            raise DemoRefused("Les données de démonstration sont déjà chargées : rien à faire.")
        if state == "used":
            raise DemoRefused(
                "La base contient déjà des candidats ou des dossiers : données de démonstration "
                "non chargées (elles ne se chargent que dans une base vide)."
            )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            return await Loader(client, quiet).run()
    finally:
        await app.state.engine.dispose()
