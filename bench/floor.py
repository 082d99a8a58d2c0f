"""The floor of issue 13: a bare Starlette app that runs the service's queries through raw
asyncpg and returns byte-identical JSON (no auth, no ORM, no validation, no middleware).

    GUICHET_DATABASE_URL=postgresql+asyncpg://… uvicorn --factory bench.floor:create_app

Serves the same paths as the service for the reads of the issue's table (the prefect's scope
is fixed to `FLOOR_DEPARTEMENT` for the prefect's list, as the token would fix it).
`bench/run.py` checks the bytes against the service's before measuring.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.auth.principal import Role
from app.budgets.rules import final_report_refusal
from app.evaluations.rules import evaluate_refusal
from app.projects.rules import ProjectAction, Status, allowed_actions

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


SUMMARY = """p.id, p.candidate_id, c.name AS candidate_name, p.departement, p.strand, p.title,
 p.nature, p.status, p.requested_cents, p.total_cost_cents, p.start_on, p.end_on,
 p.submitted_at, p.returned_at, p.evaluation_count, p.mean_score_centi, p.advisory_count,
 p.advisory_mean_centi, p.version, p.created_at, p.updated_at"""


# What a prefect's actions hang on (app.projects.guards): its own evaluation (R-EVAL-2) and
# the grant (R-FLOW-1, R-PAY-2), selected with the dossier as the service does. `$1` is the
# caller's subject.
PREFECT_FACTS = """, EXISTS (SELECT 1 FROM evaluation v WHERE v.project_id = p.id
 AND v.evaluator_subject = $1) AS evaluated,
 (SELECT g.status FROM project_grant g WHERE g.project_id = p.id) AS grant_status,
 EXISTS (SELECT 1 FROM project_grant g WHERE g.project_id = p.id
 AND g.final_report_on IS NOT NULL) AS reported"""


def _actions(r: Any, role: Role) -> list[str]:
    """allowed_actions by the lifecycle table and the two guards' pure rules."""
    status = Status(r["status"])
    out = []
    for action in allowed_actions(status, role):
        if action is ProjectAction.EVALUATE and evaluate_refusal(
            role=role.value, strand=r["strand"], status=status.value,
            already_evaluated=r["evaluated"],
        ):  # fmt: skip
            continue
        if action is ProjectAction.FINAL_REPORT and final_report_refusal(
            status, grant_status=r["grant_status"], recorded=r["reported"]
        ):
            continue
        out.append(action.value)
    return out


def _summary(r: Any, role: Role) -> dict[str, Any]:
    return {
        "id": str(r["id"]), "candidate_id": str(r["candidate_id"]),
        "candidate_name": r["candidate_name"], "departement": r["departement"],
        "strand": r["strand"], "title": r["title"], "nature": r["nature"],
        "status": r["status"], "requested_cents": r["requested_cents"],
        "total_cost_cents": r["total_cost_cents"],
        "start_on": r["start_on"].isoformat() if r["start_on"] else None,
        "end_on": r["end_on"].isoformat() if r["end_on"] else None,
        "submitted_at": _dt(r["submitted_at"]),
        "returned_at": _dt(r["returned_at"]),
        "allowed_actions": _actions(r, role),
        "evaluations": {
            "count": r["evaluation_count"], "mean_weighted_total": _centi(r["mean_score_centi"]),
            "advisory_count": r["advisory_count"],
            "advisory_mean_weighted_total": _centi(r["advisory_mean_centi"]),
        },
        "version": r["version"], "created_at": _dt(r["created_at"]),
        "updated_at": _dt(r["updated_at"]),
    }  # fmt: skip


async def list_projects(request: Request) -> Response:
    q = request.query_params
    limit = int(q.get("limit", 50))
    conditions: list[str] = []
    args: list[Any] = []
    subject = request.headers.get("x-floor-subject")  # a prefect's list: its facts too
    facts, role = ("", Role.DINUM) if subject is None else (PREFECT_FACTS, Role.PREFECT)
    if subject is not None:
        args.append(subject)
    departement = q.get("departement") or request.headers.get("x-floor-departement")
    for column, value in (("p.departement", departement), ("p.status", q.get("status"))):
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
    return _json({"items": [_summary(r, role) for r in rows], "next_cursor": next_cursor})


async def read_project(request: Request) -> Response:
    project_id = uuid.UUID(request.path_params["project_id"])
    async with request.app.state.pool.acquire() as conn:
        r = await conn.fetchrow(
            f"SELECT {SUMMARY}, p.description, p.objectives, p.status_message, p.sponsor_name,"
            " p.sponsor_role, p.team, p.agents_impacted, p.users_impacted, p.replicability,"
            " p.open_source, (SELECT json_agg(json_build_object('id', e.id, 'category',"
            " e.category, 'label', e.label, 'amount_cents', e.amount_cents, 'vendor_origin',"
            " e.vendor_origin, 'provider_departement', e.provider_departement) ORDER BY"
            " e.position) FROM expense_line e WHERE e.project_id = p.id)::text AS lines,"
            " (SELECT json_agg(json_build_object('id', f.id, 'funder', f.funder,"
            " 'amount_cents', f.amount_cents) ORDER BY f.position) FROM funding_line f"
            " WHERE f.project_id = p.id)::text AS funding"
            " FROM project p JOIN candidate c ON c.id = p.candidate_id WHERE p.id = $1",
            project_id,
        )
    if r is None:
        return Response(status_code=404)
    body = _summary(r, Role.DINUM)
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


def _envelope(r: Any) -> dict[str, Any]:
    allocated, committed = r["allocated_cents"], r["committed_cents"]
    return {
        "id": str(r["id"]), "departement": r["departement"],
        "prefecture_name": r["prefecture_name"], "prefecture_siret": r["prefecture_siret"],
        "allocated_cents": allocated, "committed_cents": committed,
        "paid_cents": r["paid_cents"], "available_cents": allocated - committed,
        "use_rate_bps": committed * 10_000 // allocated if allocated else 0,
        "version": r["version"], "updated_at": _dt(r["updated_at"]),
    }  # fmt: skip


async def read_envelope(request: Request) -> Response:
    async with request.app.state.pool.acquire() as conn:
        r = await conn.fetchrow(
            "SELECT e.* FROM envelope e JOIN programme g ON g.id = e.programme_id"
            " WHERE g.code = $1 AND e.departement = $2",
            request.app.state.programme_code, request.path_params["departement"],
        )  # fmt: skip
    return _json(_envelope(r)) if r else Response(status_code=404)


async def read_ledger(request: Request) -> Response:
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

    async def lifespan(app: Starlette) -> Any:
        app.state.pool = await asyncpg.create_pool(url, min_size=10, max_size=10)
        app.state.programme_code = os.environ.get("GUICHET_PROGRAMME_CODE", "FITN7-AXE3")
        yield
        await app.state.pool.close()

    return Starlette(
        routes=[
            Route("/healthz", health),
            Route("/api/v1/projects", list_projects),
            Route("/api/v1/projects/{project_id}", read_project),
            Route("/api/v1/projects/{project_id}/eligibility", read_project),
            Route("/api/v1/envelopes/{departement}", read_envelope),
            Route("/api/v1/envelopes/{departement}/ledger", read_ledger),
        ],
        lifespan=lifespan,
    )
