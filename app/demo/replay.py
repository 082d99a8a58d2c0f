"""Replay the demo's timeline through the API, each step at its own instant.

Every step is a request a front-end would send, with the token of the role that sends it; before
it, the clock the app's `get_clock` serves is set to read the step's instant (what tests do with
`clock_at`), so that every date stored is the one the API wrote that day.
Steps wait in a heap ordered by instant; a step may schedule later ones (a committee's close
schedules the conventions of the dossiers it funded, a convention its payments).
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import httpx
from fastapi import FastAPI

from app.core.clock import Clock, use_clock
from app.core.config import Settings
from app.core.security import encode_access_token
from app.demo.cast import (
    ANCT,
    BY_CODE,
    DEPARTEMENTS,
    DINUM,
    MEMBERS,
    ORGANISATIONS,
    PREFECTS,
    STATE_SIREN,
    SYNDICAT,
    Organisation,
    Who,
    siret_of,
)
from app.demo.documents import STUB_PDF
from app.demo.timeline import (
    DECIDED,
    DEMO_END,
    FITN7,
    FITN7_HORIZON,
    FUNDED,
    NT2026,
    NT2026_OPENS,
    OPENING,
    TITLES,
    DossierPlan,
    at,
)
from app.projects.lifecycle_rules import Status

API = "/api/v1"
Step = Callable[[], Awaitable[None]]


@dataclass
class Loaded:
    """What the loader made: the dossiers (plan and ids), candidates and committees."""

    dossiers: list[DossierPlan] = field(default_factory=list)
    candidates: dict[str, str] = field(default_factory=dict)
    committees: list[str] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for plan in self.dossiers:
            counts[plan.fate.value] = counts.get(plan.fate.value, 0) + 1
        return counts


class Replay:
    def __init__(self, app: FastAPI, client: httpx.AsyncClient, settings: Settings) -> None:
        self.app, self.client, self.settings = app, client, settings
        self.loaded = Loaded()
        self.heap: list[tuple[datetime, int, Step]] = []
        self.seq = 0
        self.tokens: dict[Who, str] = {}
        self.etags: dict[str, str] = {}
        self.programmes: dict[str, dict[str, Any]] = {}
        self.candidate_documents: set[tuple[str, str]] = set()
        self.review: dict[str, list[DossierPlan]] = {}  # (programme, dep) → dossiers in review
        self.now: datetime = at(OPENING)

    # -- the clock and the requests -----------------------------------------------------------

    def schedule(self, instant: datetime, step: Step) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (instant, self.seq, step))

    async def run(self) -> Loaded:
        # The clock `get_clock` serves is the app's: set at each step (as an override of the
        # dependency would, without FastAPI resolving an override on every request), never
        # reread from the database meanwhile.
        self.app.state.clock_reread_at = math.inf
        while self.heap:
            instant, _, step = heapq.heappop(self.heap)
            self.now = instant
            self.app.state.clock = Clock.starting_at(instant)
            use_clock(self.app.state.clock)
            await step()
        return self.loaded

    def headers(self, who: Who) -> dict[str, str]:
        if who not in self.tokens:
            self.tokens[who] = encode_access_token(
                self.settings,
                sub=who.sub,
                role=who.role,
                departement=who.departement,
                siren=who.siren,
                ttl_seconds=3600,
            )
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def call(
        self,
        method: str,
        path: str,
        who: Who,
        *,
        json: Any = None,
        etag: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = self.headers(who) | ({"If-Match": etag} if etag else {})
        self.loaded.requests += 1
        response = await self.client.request(
            method, f"{API}{path}", json=json, headers=headers, **kwargs
        )
        if response.status_code >= 300:
            raise RuntimeError(
                f"{self.now.isoformat()} {method} {path}: {response.status_code} {response.text}"
            )
        return response

    async def versioned(self, path: str, action: str, who: Who, json: Any = None) -> Any:
        """POST `path/action` with `path`'s ETag (the last one seen, read again if stale)."""
        for attempt in (0, 1):
            if attempt or path not in self.etags:
                self.etags[path] = (await self.call("GET", path, who)).headers["ETag"]
            try:
                done = await self.call(
                    "POST", f"{path}/{action}", who, json=json, etag=self.etags[path]
                )
            except RuntimeError as refused:
                if attempt or ": 412 " not in str(refused):
                    raise
                continue
            self.etags[path] = done.headers["ETag"]
            return done.json()
        raise AssertionError("unreachable")

    async def programme(self, code: str) -> dict[str, Any]:
        if code not in self.programmes:
            self.programmes[code] = (await self.call("GET", f"/programmes/{code}", DINUM)).json()
        return self.programmes[code]

    async def documents(self, plan: DossierPlan, step: str, who: Who, lines: list[str]) -> None:
        """R-DOC-1: what the programme asks of this dossier at `step`, a small PDF each."""
        programme = await self.programme(plan.programme)
        for required in programme["required_documents"]:
            if required["step"] != step:
                continue
            if required["strands"] is not None and plan.strand not in required["strands"]:
                continue
            kinds = required["candidate_kinds"]
            if kinds is not None and plan.org.kind not in kinds:
                continue
            code, owner = required["code"], required["owner"]
            if owner == "candidate":
                if (plan.org.key, code) in self.candidate_documents:
                    continue
                self.candidate_documents.add((plan.org.key, code))
                path = f"/candidates/{self.loaded.candidates[plan.org.key]}/documents"
            else:
                path = f"/projects/{plan.ids['project']}/documents"
            threshold = required["per_line_above_cents"]
            targets: list[str | None] = [None]
            if threshold is not None:
                targets = list(lines) if plan.line_cents > threshold else []
            for line in targets:
                data = {"kind": code} | ({"expense_line_id": line} if line else {})
                content = STUB_PDF + f"% {code} {line or plan.key}\n".encode()
                await self.call(
                    "POST",
                    path,
                    who,
                    data=data,
                    files={"file": (f"{code}.pdf", content, "application/pdf")},
                )

    # -- the story ----------------------------------------------------------------------------

    def fitn7(self, dossiers: list[DossierPlan], envelopes: dict[str, int]) -> None:
        self.schedule(at(OPENING, 9, 30), lambda: self.allocate(FITN7, envelopes))
        self.schedule(at(OPENING, 9, 45), self.register_candidates)
        for plan in dossiers:
            self.dossier(plan)
        self.committees(FITN7, OPENING, FITN7_HORIZON - timedelta(days=5), dossiers)

    def nt2026(self, dossiers: list[DossierPlan], envelopes: dict[str, int]) -> None:
        self.schedule(at(date(2026, 1, 12)), self.draft_nt2026)
        self.schedule(at(date(2026, 1, 15)), self.publish_nt2026)
        self.schedule(at(date(2026, 1, 19)), lambda: self.allocate(NT2026, envelopes))
        for plan in dossiers:
            self.dossier(plan)
        self.committees(NT2026, NT2026_OPENS, date(2026, 3, 5), dossiers, day=2)

    async def allocate(self, programme: str, envelopes: dict[str, int]) -> None:
        for dep, cents in envelopes.items():
            await self.call(
                "POST",
                f"/envelopes/{dep}/allocations?programme={programme}",
                DINUM,
                json={
                    "kind": "allocation",
                    "amount_cents": cents,
                    "reference": f"Arrêté de délégation {programme} — {dep}",
                    "prefecture_name": BY_CODE[dep].prefecture,
                    "prefecture_siret": siret_of(
                        STATE_SIREN, f"{DEPARTEMENTS.index(dep) + 13:04d}"
                    ),
                },
            )

    async def register_candidates(self) -> None:
        for org in [*ORGANISATIONS, SYNDICAT]:
            body: dict[str, Any] = {"siret": siret_of(org.siren), "kind": org.kind}
            if org.kind in ("departement", "region") or org.declared:
                body["departement"] = org.departement
            if org.region:
                body["region"] = org.region
            if org.name is not None:
                body["name"] = org.name
            if org.kind == "public_body":
                body["public_body_attestation"] = True
            created = await self.call("POST", "/candidates", org.agent, json=body)
            self.loaded.candidates[org.key] = created.json()["id"]
            self.etags[f"/candidates/{created.json()['id']}"] = created.headers["ETag"]
            if org.to_verify and org.verify:  # R-REF-2: the prefect verifies it a few days on
                self.schedule(self.now + timedelta(days=3), partial(self.verify, org))

    async def verify(self, org: Organisation) -> None:
        path = f"/candidates/{self.loaded.candidates[org.key]}"
        await self.versioned(path, "verify", PREFECTS[org.departement], {"decision": "verified"})

    async def draft_nt2026(self) -> None:
        from app.programme.seed_nt2026 import NT2026 as DOCUMENT

        body = json.loads(json.dumps(DOCUMENT, default=str))
        body.pop("status", None)
        await self.call("POST", "/programmes", DINUM, json=body)

    async def publish_nt2026(self) -> None:
        await self.versioned(f"/programmes/{NT2026}", "publish", DINUM)
        self.programmes.pop(NT2026, None)

    # -- a dossier's life ---------------------------------------------------------------------

    def dossier(self, plan: DossierPlan) -> None:
        self.loaded.dossiers.append(plan)
        self.schedule(plan.filed, lambda: self.file(plan))

    async def file(self, plan: DossierPlan) -> None:
        body = {
            "programme": plan.programme,
            "strand": plan.strand,
            "title": TITLES[plan.strand],
            "description": f"Projet de démonstration ({plan.strand}) de {plan.org.key}.",
            "nature": "modernisation",
            "start_on": plan.start_on.isoformat(),
            "end_on": plan.end_on.isoformat(),
            "sponsor": {"name": "Mme la Maire", "role": "Maire"},
            "expense_lines": [
                {"category": plan.category, "label": "Prestation", "amount_cents": plan.line_cents}
            ],
            "requested_cents": plan.requested_cents,
            "agents_impacted": 12,
            "users_impacted": 2_500,
        }
        created = await self.call("POST", "/projects", plan.org.agent, json=body)
        project = created.json()
        plan.ids["project"] = str(project["id"])
        plan.ids["lines"] = ",".join(str(line["id"]) for line in project["expense_lines"])
        self.etags[self.path(plan)] = created.headers["ETag"]
        if plan.fate != Status.DRAFT:
            self.schedule(plan.filed + timedelta(days=2), lambda: self.submit(plan))

    @staticmethod
    def path(plan: DossierPlan) -> str:
        return f"/projects/{plan.ids['project']}"

    async def submit(self, plan: DossierPlan) -> None:
        await self.documents(plan, "submission", plan.org.agent, plan.ids["lines"].split(","))
        await self.versioned(self.path(plan), "submit", plan.org.agent)
        if plan.fate == Status.WITHDRAWN:
            self.schedule(self.now + timedelta(days=9), lambda: self.withdraw(plan))
        elif plan.fate != Status.SUBMITTED:
            self.schedule(self.now + timedelta(days=6, hours=1), lambda: self.start_review(plan))

    async def withdraw(self, plan: DossierPlan) -> None:
        await self.versioned(self.path(plan), "withdraw", plan.org.agent)

    async def start_review(self, plan: DossierPlan) -> None:
        prefect = PREFECTS[plan.departement]
        await self.versioned(self.path(plan), "start-review", prefect)
        await self.evaluate(plan, prefect)
        strand = next(
            s for s in (await self.programme(plan.programme))["strands"] if s["code"] == plan.strand
        )
        if ANCT.role in strand["advisors"]:  # R-EVAL-3: ANCT's advisory evaluation
            self.schedule(self.now + timedelta(hours=2), lambda: self.evaluate(plan, ANCT))
        if plan.fate == Status.CLOSED:
            self.schedule(self.now + timedelta(days=8), lambda: self.close(plan))
        elif plan.fate in DECIDED:
            self.review.setdefault(f"{plan.programme} {plan.departement}", []).append(plan)

    async def evaluate(self, plan: DossierPlan, who: Who) -> None:
        programme = await self.programme(plan.programme)
        strand = next(s for s in programme["strands"] if s["code"] == plan.strand)
        codes = [c["code"] for c in programme["general_criteria"]]
        codes += [c["code"] for c in strand["criteria"]]
        score = 3 + len(plan.key) % 3 if plan.fate != Status.REJECTED else 2
        await self.call(
            "POST",
            f"{self.path(plan)}/evaluations",
            who,
            json={
                "conflict_of_interest": False,
                "scores": dict.fromkeys(codes, score),
                "recommendation": "fund" if plan.fate != Status.REJECTED else "reject",
                "comments": "Dossier solide, équipe projet identifiée.",
            },
        )

    async def close(self, plan: DossierPlan) -> None:
        reason = {"reason": "Classé sans suite : doublon d'un autre dossier."}
        await self.versioned(self.path(plan), "close", PREFECTS[plan.departement], reason)

    # -- committees, monthly in each département that has dossiers to decide -------------------

    def committees(
        self,
        programme: str,
        first: date,
        last: date,
        dossiers: list[DossierPlan],
        day: int | None = None,
    ) -> None:
        deps = sorted({p.departement for p in dossiers if p.fate in DECIDED})
        month = date(first.year, first.month, 1)
        while month <= last:
            for dep in deps:
                meeting = month.replace(day=day or BY_CODE[dep].committee_day)
                if first <= meeting - timedelta(days=5) and meeting <= last:
                    self.schedule(
                        at(meeting - timedelta(days=5), 8),
                        partial(self.plan_committee, programme, dep, meeting),
                    )
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)

    async def plan_committee(self, programme: str, dep: str, meeting: date) -> None:
        if not self.review.get(f"{programme} {dep}"):
            return  # nothing to decide this month
        created = await self.call(
            "POST",
            "/committees",
            PREFECTS[dep],
            json={"programme": programme, "meeting_on": meeting.isoformat(), "members": MEMBERS},
        )
        path = f"/committees/{created.json()['id']}"
        self.etags[path] = created.headers["ETag"]
        self.loaded.committees.append(created.json()["id"])
        self.schedule(at(meeting, 9), lambda: self.sit(programme, dep, path))

    async def sit(self, programme: str, dep: str, path: str) -> None:
        prefect = PREFECTS[dep]
        decided = self.review.pop(f"{programme} {dep}", [])
        add = [p.ids["project"] for p in decided]
        await self.versioned(path, "agenda", prefect, {"add": add, "remove": []})
        for plan in decided:
            body: dict[str, Any] = {"project_id": plan.ids["project"]}
            if plan.fate in FUNDED:
                body |= {"outcome": "accepted", "granted_cents": plan.granted_cents}
            else:
                body |= {"outcome": "rejected", "motivation": "Projet insuffisamment mûr."}
            await self.versioned(path, "decisions", prefect, body)
        await self.versioned(path, "close", prefect)
        for index, plan in enumerate(decided):
            self.etags.pop(self.path(plan), None)  # the decision moved the dossier on
            if plan.fate in FUNDED - {Status.ACCEPTED}:
                delay = 14 + index % 10 if plan.programme == FITN7 else 7
                signed = self.now + timedelta(days=delay, hours=index % 6)
                self.schedule(signed, partial(self.convention, plan))

    # -- money: conventions, payments on their schedule, reports, cancellations ------------------

    def caps(self, plan: DossierPlan) -> tuple[int, int]:
        programme = self.programmes[plan.programme]
        advance = plan.granted_cents * programme["advance_cap_bps"] // 10_000
        pre_final = plan.granted_cents * programme["pre_final_payment_cap_bps"] // 10_000
        return advance, pre_final - advance

    async def convention(self, plan: DossierPlan) -> None:
        prefect = PREFECTS[plan.departement]
        await self.programme(plan.programme)
        advance, instalment = self.caps(plan)
        today = self.now.date()
        advance_on = today + timedelta(days=plan.schedule_days[0])
        instalment_on = today + timedelta(days=plan.schedule_days[1])
        balance_on = plan.end_on + timedelta(days=45)
        await self.documents(plan, "convention", prefect, [])
        balance = plan.granted_cents - advance - instalment
        schedule = [
            ("Avance", "advance", advance_on, advance),
            ("Acompte", "instalment", instalment_on, instalment),
            ("Solde", "balance", balance_on, balance),
        ]
        body = {
            "reference": f"CONV-{plan.departement}-{plan.key}",
            "kind": "crte" if plan.programme == FITN7 else "ad_hoc",
            "signed_on": today.isoformat(),
            "schedule": [
                {"label": label, "kind": kind, "due_on": on.isoformat(), "amount_cents": cents}
                for label, kind, on, cents in schedule
            ],
        }
        await self.versioned(self.path(plan), "convention", prefect, body)
        horizon = FITN7_HORIZON if plan.programme == FITN7 else DEMO_END.date() - timedelta(days=1)
        # Payments follow the schedule, on the day each falls due (within the story's time).
        if advance_on <= horizon:
            self.schedule(at(advance_on, 11), lambda: self.pay(plan, "advance", advance))
        if plan.fate == Status.CANCELLED:
            cancel_on = advance_on + timedelta(days=60)
            self.schedule(at(min(cancel_on, FITN7_HORIZON), 15), lambda: self.cancel(plan))
            return
        if instalment_on <= horizon and instalment_on < plan.end_on:
            self.schedule(at(instalment_on, 11), lambda: self.pay(plan, "instalment", instalment))
        if plan.fate == Status.COMPLETED:
            report_on = plan.end_on + timedelta(days=10)
            self.schedule(at(report_on, 14), lambda: self.final_report(plan))

    async def pay(self, plan: DossierPlan, kind: str, cents: int) -> None:
        await self.call(
            "POST",
            f"{self.path(plan)}/payments",
            PREFECTS[plan.departement],
            json={"kind": kind, "amount_cents": cents, "paid_on": self.now.date().isoformat()},
        )
        plan.ids[f"paid-{kind}"] = str(cents)
        self.etags.pop(self.path(plan), None)

    async def final_report(self, plan: DossierPlan) -> None:
        prefect = PREFECTS[plan.departement]
        await self.documents(plan, "final_report", prefect, [])
        body = {"received_on": self.now.date().isoformat(), "summary": "Service ouvert."}
        await self.versioned(self.path(plan), "final-report", prefect, body)
        paid = sum(int(v) for k, v in plan.ids.items() if k.startswith("paid-"))
        rest = plan.granted_cents - paid
        if plan.settle_below:  # the expenses came in under budget: the balance pays less
            rest -= max(plan.granted_cents // 10, 100_000)
        self.schedule(self.now + timedelta(days=14), lambda: self.pay(plan, "balance", rest))

    async def cancel(self, plan: DossierPlan) -> None:
        reason = {"reason": "Projet abandonné par la collectivité."}
        await self.versioned(self.path(plan), "cancel", PREFECTS[plan.departement], reason)
