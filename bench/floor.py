"""The floor of issue 13: a bare Starlette app that does the service's work on the same rows
through raw asyncpg and returns byte-identical JSON (no ORM, no validation, no middleware).

    GUICHET_DATABASE_URL=postgresql+asyncpg://… uvicorn --factory bench.floor:create_app

Serves the same paths as the service for the reads of the issue's table, with the same work
where it is the rules' (issue 28, "an honest floor"):

- the bearer token is verified by the service's own verifier (`app.core.security.
  TokenVerifier`: same algorithm, key, required claims and cache of verified tokens, from the
  same GUICHET_* settings) and turned into a principal by the service's `principal_from_claims`;
  401 without a valid token;
- the caller's scope (R-ACL-1, `app.projects.repository._scope`: a prefect's département, a
  candidate's SIREN) restricts the dossiers' statements as the service's clause does, and a
  prefect reads only its own envelope and ledger (`check_departement_scope`);
- the eligibility report is computed by the service's pure rules (`assess`, `project_facts`,
  `programme_terms`, `select_forfait`, `missing_documents`) from the same rows: the dossier,
  its lines and other funding, its candidate, the département's forfait schedule and the
  current documents of the dossier and its candidate, on the service's clock (the offset stored
  in `service_clock`).

`bench/run.py` checks the bytes against the service's, on every distinct request of each row,
before measuring.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.auth.principal import Principal, Role
from app.auth.rules import InvalidScope, principal_from_claims
from app.budgets.envelopes import check_departement_scope
from app.budgets.rules import final_report_refusal
from app.core.clock import Clock
from app.core.config import Settings
from app.core.errors import Unauthenticated
from app.core.tokens import TokenVerifier
from app.documents.rules import Held, Line, ScanStatus, missing_documents
from app.evaluations.rules import evaluate_refusal
from app.programme.rules import Owner, Step, requirements, select_forfait
from app.projects.assessment import DOCUMENTS_STEP, project_facts
from app.projects.eligibility_rules import assess
from app.projects.lifecycle_rules import ACTION_ROLES, ProjectAction, Status, allowed_actions
from app.projects.reads import shows_scores
from app.projects.repository import _scope
from app.projects.terms import programme_terms
from app.reference.catalogue import get_catalogue

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _dt(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def _centi(centi: int | None) -> str | None:
    return None if centi is None else f"{centi // 100}.{centi % 100:02d}"


def _json(payload: Any) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return Response(body.encode(), media_type="application/json")


async def _principal(request: Request) -> Principal | None:
    """The caller, by the service's verifier and claims-to-principal rule; None: a 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        claims = await request.app.state.verifier.verify(token)
        return principal_from_claims(claims, is_departement=get_catalogue().is_departement)
    except (Unauthenticated, InvalidScope):
        return None


def _scope_condition(principal: Principal, args: list[Any]) -> str | None:
    """R-ACL-1 on `project p` for this caller, as the service's clause: its value appended to
    `args`; None for the national roles."""
    kind, value = _scope(principal)
    if kind == "national":
        return None
    if kind == "none":
        return "false"
    args.append(value)
    if kind == "candidate":
        return f"p.candidate_id IN (SELECT id FROM candidate WHERE siren = ${len(args)})"
    return f"p.departement = ${len(args)}"


# The roles whose actions hang on facts (R-EVAL-2, R-PAY-2): their reads select them.
FACT_ROLES = ACTION_ROLES[ProjectAction.EVALUATE] | ACTION_ROLES[ProjectAction.FINAL_REPORT]


def _facts(principal: Principal, args: list[Any]) -> str:
    if principal.role not in FACT_ROLES:
        return ""
    args.append(principal.subject)
    return PREFECT_FACTS.replace("$1", f"${len(args)}")


SUMMARY = """p.id, p.candidate_id, c.name AS candidate_name, p.departement, p.strand, p.title,
 p.nature, p.status, p.requested_cents, p.total_cost_cents, p.start_on, p.end_on,
 p.submitted_at, p.returned_at, p.evaluation_count, p.mean_score_centi, p.advisory_count,
 p.advisory_mean_centi, p.version, p.created_at, p.updated_at"""


# What a prefect's actions hang on (app.projects.guards): its own evaluation (R-EVAL-2) and
# the grant (R-FLOW-1, R-PAY-2), selected with the dossier as the service does. `$1` stands
# for the caller's subject (renumbered by `_facts`).
PREFECT_FACTS = """, EXISTS (SELECT 1 FROM evaluation v WHERE v.project_id = p.id
 AND v.evaluator_subject = $1) AS evaluated,
 (SELECT g.status FROM project_grant g WHERE g.project_id = p.id) AS grant_status,
 EXISTS (SELECT 1 FROM project_grant g WHERE g.project_id = p.id
 AND g.final_report_on IS NOT NULL) AS reported"""


# The programme's code and each strand's advisory evaluators (R-PROG-2, R-EVAL-3): read once
# at startup, as the service's programme cache holds them (nothing writes them during a run).
PROGRAMME: dict[str, Any] = {"code": None, "advisors": {}}


def _actions(r: Any, role: Role) -> list[str]:
    """allowed_actions by the lifecycle table and the two guards' pure rules."""
    status = Status(r["status"])
    out = []
    for action in allowed_actions(status, role):
        if action is ProjectAction.EVALUATE and evaluate_refusal(
            role=role.value, strand=r["strand"], status=status.value,
            already_evaluated=r["evaluated"],
            advisors=PROGRAMME["advisors"].get(r["strand"], ()),
        ):  # fmt: skip
            continue
        if action is ProjectAction.FINAL_REPORT and final_report_refusal(
            status, grant_status=r["grant_status"], recorded=r["reported"]
        ):
            continue
        out.append(action.value)
    return out


def _summary(r: Any, principal: Principal) -> dict[str, Any]:
    return {
        "id": str(r["id"]), "candidate_id": str(r["candidate_id"]),
        "candidate_name": r["candidate_name"], "programme": PROGRAMME["code"],
        "departement": r["departement"],
        "strand": r["strand"], "title": r["title"], "nature": r["nature"],
        "status": r["status"], "requested_cents": r["requested_cents"],
        "total_cost_cents": r["total_cost_cents"],
        "start_on": r["start_on"].isoformat() if r["start_on"] else None,
        "end_on": r["end_on"].isoformat() if r["end_on"] else None,
        "submitted_at": _dt(r["submitted_at"]),
        "returned_at": _dt(r["returned_at"]),
        "allowed_actions": _actions(r, principal.role),
        "evaluations": {
            "count": r["evaluation_count"], "mean_weighted_total": _centi(r["mean_score_centi"]),
            "advisory_count": r["advisory_count"],
            "advisory_mean_weighted_total": _centi(r["advisory_mean_centi"]),
        } if shows_scores(principal) else None,
        "version": r["version"], "created_at": _dt(r["created_at"]),
        "updated_at": _dt(r["updated_at"]),
    }  # fmt: skip


async def list_projects(request: Request) -> Response:
    principal = await _principal(request)
    if principal is None:
        return Response(status_code=401)
    q = request.query_params
    limit = int(q.get("limit", 50))
    args: list[Any] = []
    facts = _facts(principal, args)
    scope = _scope_condition(principal, args)
    conditions = [] if scope is None else [scope]
    for column, value in (("p.departement", q.get("departement")), ("p.status", q.get("status"))):
        if value:
            args.append(value)
            conditions.append(f"{column} = ${len(args)}")
    if q.get("cursor"):
        _name, micros, row_hex = q["cursor"].split(".")
        args += [_EPOCH + int(micros) * _US, uuid.UUID(hex=row_hex)]
        conditions.append(f"(p.created_at, p.id) > (${len(args) - 1}, ${len(args)})")
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    args.append(limit + 1)
    sql = (
        f"SELECT {SUMMARY}{facts} FROM project p JOIN candidate c ON c.id = p.candidate_id {where} "
        f"ORDER BY p.created_at, p.id LIMIT ${len(args)}"
    )
    async with request.app.state.pool.acquire() as conn:
        rows = await conn.fetch(sql, *args)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = f"projects.{(last['created_at'] - _EPOCH) // _US}.{last['id'].hex}"
    items = [_summary(r, principal) for r in rows]
    return _json({"items": items, "next_cursor": next_cursor})


async def read_project(request: Request) -> Response:
    principal = await _principal(request)
    if principal is None:
        return Response(status_code=401)
    args: list[Any] = [uuid.UUID(request.path_params["project_id"])]
    facts = _facts(principal, args)
    scope = _scope_condition(principal, args)
    async with request.app.state.pool.acquire() as conn:
        r = await conn.fetchrow(
            f"SELECT {SUMMARY}{facts}, p.description, p.objectives, p.status_message,"
            " p.sponsor_name, p.sponsor_role, p.team, p.agents_impacted, p.users_impacted,"
            " p.replicability, p.open_source, (SELECT json_agg(json_build_object('id', e.id,"
            " 'category', e.category, 'label', e.label, 'amount_cents', e.amount_cents,"
            " 'vendor_origin', e.vendor_origin, 'provider_departement', e.provider_departement)"
            " ORDER BY e.position) FROM expense_line e WHERE e.project_id = p.id)::text AS lines,"
            " (SELECT json_agg(json_build_object('id', f.id, 'funder', f.funder,"
            " 'amount_cents', f.amount_cents) ORDER BY f.position) FROM funding_line f"
            " WHERE f.project_id = p.id)::text AS funding"
            " FROM project p JOIN candidate c ON c.id = p.candidate_id WHERE p.id = $1"
            + ("" if scope is None else f" AND {scope}"),
            *args,
        )
    if r is None:
        return Response(status_code=404)
    body = _summary(r, principal)
    body.update(
        description=r["description"], objectives=r["objectives"],
        status_message=r["status_message"],
        sponsor={"name": r["sponsor_name"], "role": r["sponsor_role"]},
        team=[
            {"name": m["name"], "role": m["role"], "skills": m.get("skills"),
             "availability_pct": m.get("availability_pct")}
            for m in json.loads(r["team"])
        ],
        agents_impacted=r["agents_impacted"], users_impacted=r["users_impacted"],
        replicability=r["replicability"], open_source=r["open_source"],
        expense_lines=json.loads(r["lines"] or "[]"),
        other_funding=json.loads(r["funding"] or "[]"),
    )  # fmt: skip
    return _json(body)


ELIGIBILITY = """SELECT p.id, p.status, p.strand, p.departement, p.title, p.description,
 p.nature, p.start_on, p.end_on, p.sponsor_name, p.sponsor_role, p.requested_cents,
 c.kind AS candidate_kind, c.population, c.epci_type,
 (SELECT json_agg(json_build_object('id', e.id, 'category', e.category, 'label', e.label,
  'amount_cents', e.amount_cents, 'vendor_origin', e.vendor_origin) ORDER BY e.position)
  FROM expense_line e WHERE e.project_id = p.id)::text AS lines,
 (SELECT coalesce(sum(f.amount_cents), 0)::bigint FROM funding_line f
  WHERE f.project_id = p.id) AS other_funding,
 (SELECT d.tiers FROM departement_forfaits d WHERE d.programme_id = p.programme_id
  AND d.departement = p.departement)::text AS own_tiers,
 (SELECT json_agg(json_build_object('kind', d.kind, 'on_project', d.project_id IS NOT NULL,
  'line', d.expense_line_id, 'scan', d.scan_status) ORDER BY d.created_at, d.id)
  FROM document d WHERE (d.project_id = p.id OR d.candidate_id = c.id)
  AND d.superseded_at IS NULL)::text AS documents
 FROM project p JOIN candidate c ON c.id = p.candidate_id WHERE p.id = $1"""


async def read_eligibility(request: Request) -> Response:
    """The service's report (app.projects.assessment.eligibility), by its pure rules on the same
    rows: the dossier's facts and R-CAP-3's forfait, then R-DOC-1's missing documents for the
    step the dossier's state gathers next."""
    principal = await _principal(request)
    if principal is None:
        return Response(status_code=401)
    state = request.app.state
    args: list[Any] = [uuid.UUID(request.path_params["project_id"])]
    scope = _scope_condition(principal, args)
    async with state.pool.acquire() as conn:
        r = await conn.fetchrow(ELIGIBILITY + ("" if scope is None else f" AND {scope}"), *args)
        if state.clock is None:  # the service fixed it at its first start on this database
            offset = await conn.fetchval("SELECT offset_us FROM service_clock WHERE id = 1")
            state.clock = Clock(timedelta(microseconds=offset or 0))
    if r is None:
        return Response(status_code=404)
    programme = state.programme
    lines = json.loads(r["lines"] or "[]")
    forfait, tier_label = None, None
    if r["strand"] == "3a":
        tiers = json.loads(r["own_tiers"]) if r["own_tiers"] else programme.forfaits
        tier = select_forfait(
            tiers, kind=r["candidate_kind"], population=r["population"], epci_type=r["epci_type"]
        )
        if tier is not None:
            forfait, tier_label = int(tier["amount_cents"]), str(tier["label"])
    project = SimpleNamespace(
        **{k: r[k] for k in ("title", "description", "nature", "start_on", "end_on",
                             "sponsor_name", "sponsor_role", "requested_cents")},
        expense_lines=[SimpleNamespace(**line) for line in lines],
        funding_lines=[SimpleNamespace(amount_cents=r["other_funding"])],
    )  # fmt: skip
    terms = state.terms.get(r["strand"])
    if terms is None:  # the strand's terms (its cap rate), computed once per strand
        terms = state.terms[r["strand"]] = programme_terms(programme, r["strand"])
    report = assess(project_facts(project, forfait, tier_label), terms, state.clock.today())
    step = DOCUMENTS_STEP.get(Status(r["status"]))
    missing = []
    if step is not None:
        held = [
            Held(kind=d["kind"], owner=Owner.PROJECT if d["on_project"] else Owner.CANDIDATE,
                 expense_line_id=uuid.UUID(d["line"]) if d["line"] else None,
                 scan_status=ScanStatus(d["scan"]))
            for d in json.loads(r["documents"] or "[]")
        ]  # fmt: skip
        missing = missing_documents(
            programme.requirements, step=step, strand=r["strand"],
            candidate_kind=r["candidate_kind"],
            lines=[Line(uuid.UUID(x["id"]), x["label"], x["amount_cents"]) for x in lines],
            held=held, production=state.production,
        )  # fmt: skip
    failures = [*report.failures, *missing] if step is Step.SUBMISSION else report.failures
    labels = {x["id"]: x["label"] for x in lines}
    cost = report.cost
    return _json({
        "project_id": str(r["id"]), "status": r["status"], "eligible": not failures,
        "total_cost_cents": cost.total_cost_cents,
        "eligible_cost_cents": cost.eligible_cost_cents,
        "excluded_cents": sum(o.excluded_cents for o in cost.excluded),
        "excluded": [
            {"line_id": o.ref, "position": o.index, "label": labels.get(o.ref, ""),
             "amount_cents": o.amount_cents, "eligible_cents": o.eligible_cents,
             "excluded_cents": o.excluded_cents, "rule": o.rule or "", "reason": o.reason or ""}
            for o in cost.excluded
        ],
        "funding_cap_cents": report.funding_cap_cents, "forfait_cents": report.forfait_cents,
        "forfait_tier": report.forfait_tier, "max_grant_cents": report.max_grant_cents,
        "requested_cents": r["requested_cents"],
        "other_public_funding_cents": report.other_public_funding_cents,
        "failures": [{"code": f.code, "message": f.message, "field": f.field} for f in failures],
        "documents_step": None if step is None else step.value,
        "missing_documents": [
            {"code": f.code, "message": f.message, "field": f.field} for f in missing
        ],
    })  # fmt: skip


async def _state_reader(request: Request) -> Principal | Response:
    """The envelope's readers (prefect, DINUM, ANCT), a prefect in its own département only."""
    principal = await _principal(request)
    if principal is None:
        return Response(status_code=401)
    if principal.role is Role.CANDIDATE:
        return Response(status_code=403)
    try:
        check_departement_scope(principal, request.path_params["departement"])
    except Exception:  # noqa: BLE001 - EnvelopeNotFound: the service's 404
        return Response(status_code=404)
    return principal


def _envelope(r: Any, programme: str) -> dict[str, Any]:
    allocated, committed = r["allocated_cents"], r["committed_cents"]
    return {
        "id": str(r["id"]), "programme": programme, "departement": r["departement"],
        "prefecture_name": r["prefecture_name"], "prefecture_siret": r["prefecture_siret"],
        "allocated_cents": allocated, "committed_cents": committed,
        "paid_cents": r["paid_cents"], "available_cents": allocated - committed,
        "use_rate_bps": committed * 10_000 // allocated if allocated else 0,
        "version": r["version"], "updated_at": _dt(r["updated_at"]),
    }  # fmt: skip


async def read_envelope(request: Request) -> Response:
    if isinstance(reader := await _state_reader(request), Response):
        return reader
    async with request.app.state.pool.acquire() as conn:
        r = await conn.fetchrow(
            "SELECT e.* FROM envelope e JOIN programme g ON g.id = e.programme_id"
            " WHERE g.code = $1 AND e.departement = $2",
            request.app.state.programme_code, request.path_params["departement"],
        )  # fmt: skip
    return _json(_envelope(r, request.app.state.programme_code)) if r else Response(status_code=404)


async def read_ledger(request: Request) -> Response:
    if isinstance(reader := await _state_reader(request), Response):
        return reader
    departement = request.path_params["departement"]
    q = request.query_params
    limit = int(q.get("limit", 50))
    args: list[Any] = [request.app.state.programme_code, departement]
    after = ""
    if q.get("cursor"):
        args.append(int(q["cursor"].split(".")[1]))
        after = f" AND m.id > ${len(args)}"
    args.append(limit + 1)
    async with request.app.state.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT m.id, m.kind, m.allocated_delta_cents, m.committed_delta_cents,"
            " m.paid_delta_cents, m.project_id, m.reference, m.actor_subject, m.actor_role,"
            " m.at FROM ledger_movement m WHERE m.envelope_id = (SELECT e.id FROM envelope e"
            " JOIN programme g ON g.id = e.programme_id WHERE g.code = $1"
            f" AND e.departement = $2){after} ORDER BY m.id LIMIT ${len(args)}",
            *args,
        )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = f"ledger.{rows[-1]['id']}"
    items = [
        {"id": r["id"], "departement": departement, "kind": r["kind"],
         "allocated_delta_cents": r["allocated_delta_cents"],
         "committed_delta_cents": r["committed_delta_cents"],
         "paid_delta_cents": r["paid_delta_cents"],
         "project_id": str(r["project_id"]) if r["project_id"] else None,
         "reference": r["reference"], "actor": r["actor_subject"],
         "actor_role": r["actor_role"], "at": _dt(r["at"])}
        for r in rows
    ]  # fmt: skip
    return _json({"items": items, "next_cursor": next_cursor})


async def health(_request: Request) -> Response:
    """GET /healthz: no database, the same bytes as the service's (the stack alone)."""
    return _json({"status": "ok"})


def create_app() -> Starlette:
    url = os.environ["GUICHET_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")

    settings = Settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(url, min_size=10, max_size=10)
        app.state.programme_code = settings.programme_code
        app.state.verifier = TokenVerifier(settings)
        app.state.production = settings.environment == "production"
        app.state.clock = None  # read from the database at the first report
        # The programme, read once (the service caches it per process too, revalidated by
        # its version; nothing writes it during the bench).
        row = await app.state.pool.fetchrow(
            "SELECT * FROM programme WHERE code = $1", settings.programme_code
        )
        programme = SimpleNamespace(**dict(row))
        for name in ("forfaits", "strands", "categories"):
            setattr(programme, name, json.loads(row[name]))
        programme.requirements = requirements(json.loads(row["required_documents"]))
        app.state.programme, app.state.terms = programme, {}
        PROGRAMME["code"] = programme.code
        PROGRAMME["advisors"] = {s["code"]: s.get("advisors") or () for s in programme.strands}
        yield
        await app.state.pool.close()

    return Starlette(
        routes=[
            Route("/healthz", health),
            Route("/api/v1/projects", list_projects),
            Route("/api/v1/projects/{project_id}", read_project),
            Route("/api/v1/projects/{project_id}/eligibility", read_eligibility),
            Route("/api/v1/envelopes/{departement}", read_envelope),
            Route("/api/v1/envelopes/{departement}/ledger", read_ledger),
        ],
        lifespan=lifespan,
    )
