"""The grant view on the lean read path (issue 28): a dossier's grant, convention and payments in
one Core statement, the response built from its row mappings once, no ORM object.

`GET /projects/{id}/grant` runs it on a pooled connection (`app.auth.dependencies.read_access`: one
statement, one snapshot of committed rows); the writes that answer with the same view (the
convention, the final report, the cancellation) and the webhook worker run it on their session's
connection, after a flush, in their transaction: one response builder for both.

Scope (R-ACL-1) is the dossiers' clause of `app.projects.repository`, on its bind parameter.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from functools import cache
from typing import Any, cast

from sqlalchemy import Select, String, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.budgets.errors import GrantNotFound
from app.budgets.grants import decided_on_day
from app.budgets.models import Convention, Grant, Payment
from app.budgets.rules import payment_conditions
from app.core.rawsql import ReadConnection
from app.projects import repository as projects_repository
from app.projects.errors import ProjectNotFound
from app.projects.models import Project

_PROJECT = Project.__table__  # type: ignore[attr-defined]
_GRANT = Grant.__table__  # type: ignore[attr-defined]
_CONVENTION = Convention.__table__  # type: ignore[attr-defined]
_PAYMENT = Payment.__table__  # type: ignore[attr-defined]

# R-PAY-4: the frozen terms, read as `GrantTerms` shows them.
TERMS = (
    "eligible_cost_cents",
    "aid_rate_bps",
    "forfait_cents",
    "forfait_tier",
    "advance_cap_bps",
    "pre_final_payment_cap_bps",
    "programme_version",
    "grid_version",
)
_GRANT_FIELDS = (
    "amount_cents",
    "paid_cents",
    "advance_paid_cents",
    "released_cents",
    "final_report_on",
    "committed_at",
    *TERMS,
)
PAYMENT_FIELDS = ("id", "project_id", "kind", "amount_cents", "paid_on", "reference", "created_at")


@cache
def _grant_stmt(kind: str) -> Select[Any]:
    """The dossier in a scope of this kind, its grant, its convention and its payments (one row
    per payment, oldest first; one row without payment): one statement, built once per scope
    kind and executed with parameters. Outer joins, so that a dossier without grant (404
    GrantNotFound) is told from one out of scope (404 ProjectNotFound)."""
    payment = _PAYMENT.c
    stmt = (
        select(
            _PROJECT.c.id.label("project_id"),
            _PROJECT.c.status.label("project_status"),
            _PROJECT.c.departement,
            _PROJECT.c.version,
            _GRANT.c.id.label("grant_id"),
            _GRANT.c.status.label("grant_status"),
            _GRANT.c.reference.label("decision_reference"),
            *(_GRANT.c[name] for name in _GRANT_FIELDS),
            _CONVENTION.c.id.label("convention_id"),
            _CONVENTION.c.reference.label("convention_reference"),
            _CONVENTION.c.kind.label("convention_kind"),
            _CONVENTION.c.signed_on,
            _CONVENTION.c.schedule,
            _CONVENTION.c.created_at.label("convention_created_at"),
            *(payment[name].label(f"payment_{name}") for name in PAYMENT_FIELDS),
        )
        .select_from(
            _PROJECT.outerjoin(_GRANT, _GRANT.c.project_id == _PROJECT.c.id)
            .outerjoin(_CONVENTION, _CONVENTION.c.project_id == _PROJECT.c.id)
            .outerjoin(_PAYMENT, payment.project_id == _PROJECT.c.id)
        )
        .where(_PROJECT.c.id == bindparam("project_id"))
        .order_by(payment.created_at, payment.id)
    )
    clause = projects_repository.scope_clause(
        kind, bindparam(projects_repository.SCOPE, type_=String)
    )
    return stmt if clause is None else stmt.where(clause)


async def grant_rows(
    connection: ReadConnection, principal: Principal, project_id: uuid.UUID
) -> Sequence[Mapping[str, Any]]:
    """The rows of `grant_fields` for a dossier in scope (R-ACL-1: else ProjectNotFound, 404);
    GrantNotFound (404) when it has no grant."""
    stmt = _grant_stmt(projects_repository.scope_of(principal)[0])
    params = {"project_id": project_id, **projects_repository.scope_params(principal)}
    found = (await connection.execute(stmt, params)).mappings().all()
    rows = cast(Sequence[Mapping[str, Any]], found)  # RowMappings, keyed by column name
    if not rows:
        raise ProjectNotFound()
    if rows[0]["grant_id"] is None:
        raise GrantNotFound()
    return rows


async def session_grant_rows(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID
) -> Sequence[Mapping[str, Any]]:
    """`grant_rows` inside a write's transaction: its changes flushed first, then read back."""
    await session.flush()
    return await grant_rows(await session.connection(), principal, project_id)


def payment_period(schedule: Sequence[Mapping[str, Any]]) -> tuple[date, date] | None:
    """SCDL `datesPeriodeVersement`: first and last due dates of the schedule."""
    if not schedule:
        return None
    due = sorted(date.fromisoformat(str(item["due_on"])) for item in schedule)
    return due[0], due[-1]


def _convention(row: Mapping[str, Any]) -> dict[str, Any] | None:
    if row["convention_id"] is None:
        return None
    schedule = row["schedule"] or []
    period = payment_period(schedule)
    return {
        "reference": row["convention_reference"],
        "kind": row["convention_kind"],
        "signed_on": row["signed_on"],
        "schedule": schedule,
        # SCDL `conditionsVersement`, from the convention's schedule.
        "payment_conditions": payment_conditions(len(schedule)),
        "payment_period_start": period[0] if period else None,
        "payment_period_end": period[1] if period else None,
        "created_at": row["convention_created_at"],
    }


def grant_fields(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """`GrantRead`'s fields from the rows of `grant_rows` (validated once, by the response
    model)."""
    row = rows[0]
    amount, paid, released = row["amount_cents"], row["paid_cents"], row["released_cents"]
    return {
        "project_id": row["project_id"],
        "project_status": row["project_status"],
        "departement": row["departement"],
        "amount_cents": amount,
        "paid_cents": paid,
        "remaining_cents": amount - paid - released,
        "advance_paid_cents": row["advance_paid_cents"],
        "released_cents": released,
        "net_cents": amount - released,  # §5, as `Grant.net_cents`
        "terms": {name: row[name] for name in TERMS},
        "status": row["grant_status"],
        "final_report_on": row["final_report_on"],
        "committed_at": row["committed_at"],
        "decision_reference": row["decision_reference"],
        "decided_on": decided_on_day(row["committed_at"]),
        "convention": _convention(row),
        "payments": [
            {name: r[f"payment_{name}"] for name in PAYMENT_FIELDS}
            for r in rows
            if r["payment_id"] is not None
        ],
    }
