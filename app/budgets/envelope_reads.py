"""Envelope reads on the lean read path (issue 28): one Core statement on a pooled connection
(`app.auth.dependencies.read_access`), the response built from its row mappings once, no ORM object.

Scope (R-ACL-1) is the clause of `repository.envelope_scope`, in every statement. The statements
are built once per shape and executed with parameters (building one was a tenth of an envelope
read's CPU, issue 13).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select, tuple_

from app.auth.principal import Principal
from app.budgets.envelopes import check_departement_scope
from app.budgets.errors import EnvelopeNotFound
from app.budgets.models import Envelope, LedgerMovement
from app.budgets.movements import LEDGER_COLUMNS, LEDGER_FIELDS
from app.budgets.repository import ScopeKind, envelope_scope, envelope_scope_clause
from app.budgets.schemas import LedgerPage, MovementRead
from app.core import rawsql
from app.core.lean_json import JsonShape
from app.core.pagination import PageParams
from app.core.rawsql import ReadConnection
from app.programme.cache import ProgrammeKey

_TABLE = Envelope.__table__  # type: ignore[attr-defined]
_CREATED = _TABLE.c.created_at
_UPDATED = _TABLE.c.updated_at
_MOVEMENTS = LedgerMovement.__table__  # type: ignore[attr-defined]
# A ledger page is written as `LedgerPage`'s bytes by `LEDGER` (app.core.lean_json: the model's
# shape, no validation per response), each movement a copy of this template of its keys in
# `MovementRead`'s order (updating a key keeps its place).
_MOVEMENT: dict[str, Any] = dict.fromkeys(MovementRead.model_fields)
LEDGER = JsonShape(LedgerPage)


def envelope_view(row: Mapping[Any, Any], programme: str) -> dict[str, Any]:
    """`EnvelopeRead`'s fields from an envelope row (validated once, by the response model)."""
    allocated, committed = row["allocated_cents"], row["committed_cents"]
    return {
        "id": row["id"],
        "programme": programme,
        "departement": row["departement"],
        "prefecture_name": row["prefecture_name"],
        "prefecture_siret": row["prefecture_siret"],
        "allocated_cents": allocated,
        "committed_cents": committed,
        "paid_cents": row["paid_cents"],
        "available_cents": allocated - committed,
        "use_rate_bps": (committed * 10_000 // allocated) if allocated else 0,
        "version": row["version"],
        "updated_at": row["updated_at"],
    }


@cache
def _envelope_stmt(scope: ScopeKind) -> Select[Any]:
    return select(_TABLE).where(
        _TABLE.c.programme_id == bindparam("programme_id"),
        _TABLE.c.departement == bindparam("departement"),
        envelope_scope_clause(scope),
    )


async def read_envelope(
    connection: ReadConnection,
    principal: Principal,
    *,
    programme: ProgrammeKey,
    departement: str,
) -> Mapping[Any, Any]:
    """The envelope of a département in scope (prefect: its own), else 404 (R-ACL-1)."""
    check_departement_scope(principal, departement)
    scope = envelope_scope(principal)
    params = {"programme_id": programme.id, "departement": departement, **scope.params}
    row = await rawsql.fetchrow(connection, _envelope_stmt(scope.kind), params)
    if row is None:
        raise EnvelopeNotFound()
    return row._mapping


@cache
def _list_stmt(scope: ScopeKind, since: bool, after: bool) -> Select[Any]:
    stmt = select(_TABLE).where(
        _TABLE.c.programme_id == bindparam("programme_id"), envelope_scope_clause(scope)
    )
    if since:  # R-SYNC-1
        stmt = stmt.where(_UPDATED >= bindparam("updated_since", type_=_UPDATED.type))
    if after:  # the keyset cursor: one index range on (created_at, id), as `keyset_page`
        stmt = stmt.where(
            tuple_(_CREATED, _TABLE.c.id)
            > tuple_(
                bindparam("after_created", type_=_CREATED.type),
                bindparam("after_id", type_=_TABLE.c.id.type),
            )
        )
    return stmt.order_by(_CREATED, _TABLE.c.id).limit(bindparam("limit"))


async def list_envelopes(
    connection: ReadConnection,
    principal: Principal,
    *,
    programme: ProgrammeKey,
    page: PageParams,
    updated_since: datetime | None = None,
) -> dict[str, Any]:
    """`EnvelopeList`'s fields: the envelopes in scope, one keyset page (R-ACL-1, R-SYNC-1)."""
    scope = envelope_scope(principal)
    params: dict[str, Any] = {"programme_id": programme.id, "limit": page.limit + 1}
    params.update(scope.params)
    if updated_since is not None:
        params["updated_since"] = updated_since
    if page.cursor:
        params["after_created"], params["after_id"] = page.format.decode_keyset(page.cursor)
    stmt = _list_stmt(scope.kind, updated_since is not None, bool(page.cursor))
    rows = [row._mapping for row in await rawsql.fetch(connection, stmt, params)]
    next_cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        next_cursor = page.format.encode_keyset(rows[-1]["created_at"], rows[-1]["id"])
    return {
        "items": [envelope_view(row, programme.code) for row in rows],
        "next_cursor": next_cursor,
    }


@cache
def _ledger_stmt(since: bool, after: bool) -> Select[Any]:
    # The envelope as a scalar subquery, not a join: the planner then knows the envelope id and
    # reads one range of (envelope_id, id) (EXPLAIN at 1,000,000 movements: 0.2 ms instead of
    # 2.7 ms walking the primary key and filtering, BENCHMARKS.md).
    envelope_id = (
        select(_TABLE.c.id)
        .where(
            _TABLE.c.programme_id == bindparam("programme_id"),
            _TABLE.c.departement == bindparam("departement"),
        )
        .scalar_subquery()
    )
    at, movement_id = _MOVEMENTS.c.at, _MOVEMENTS.c.id
    stmt = select(*LEDGER_COLUMNS).where(_MOVEMENTS.c.envelope_id == envelope_id)
    if since:  # R-SYNC-1: movements are append-only, so "since" = "at ≥"
        stmt = stmt.where(at >= bindparam("updated_since", type_=at.type))
    if after:
        stmt = stmt.where(movement_id > bindparam("after_id", type_=movement_id.type))
    return stmt.order_by(movement_id).limit(bindparam("limit"))


async def ledger(
    connection: ReadConnection,
    principal: Principal,
    *,
    programme: ProgrammeKey,
    departement: str,
    page: PageParams,
    updated_since: datetime | None = None,
) -> dict[str, Any]:
    """`LedgerPage`'s fields: the append-only movements of an envelope in scope, oldest first.

    One statement; only an empty page looks the envelope up, to tell "no movement" from 404
    (both read committed rows only: an envelope is never deleted, its movements only added).
    """
    check_departement_scope(principal, departement)  # R-ACL-1
    params: dict[str, Any] = {
        "programme_id": programme.id,
        "departement": departement,
        "limit": page.limit + 1,
    }
    if updated_since is not None:
        params["updated_since"] = updated_since
    after = page.after_serial()
    if after is not None:
        params["after_id"] = after
    stmt = _ledger_stmt(updated_since is not None, after is not None)
    rows = await rawsql.fetch(connection, stmt, params)
    if not rows:
        await read_envelope(connection, principal, programme=programme, departement=departement)
    next_cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        next_cursor = page.serial_cursor(rows[-1][0] or 0)
    items = []
    for row in rows:
        item = _MOVEMENT.copy()
        item.update(zip(LEDGER_FIELDS, row, strict=True))  # a row read by position (issue 13)
        item["departement"] = departement
        items.append(item)
    return {"items": items, "next_cursor": next_cursor}
