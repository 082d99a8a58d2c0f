"""Which committees a caller reaches (R-ACL-1), and the steps every write of a committee shares:
the guard it passes first (`writable`) and the recorded change it ends with (`changed`).

The one place committees are scoped: `get_committee` for one, `list_committees` for a page.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.audit import service as audit
from app.auth.principal import Principal, Role
from app.committees.errors import (
    CommitteeCancelled,
    CommitteeClosed,
    CommitteeNotFound,
    NationalDecider,
)
from app.committees.models import AgendaItem, Committee
from app.committees.rules import CommitteeStatus
from app.core.concurrency import check_if_match, flush_versioned
from app.core.pagination import PageParams, keyset_page, split_page
from app.core.types import utcnow


def committee_scope(principal: Principal) -> tuple[str, str | None]:
    """R-ACL-1: a prefect reaches its département's committees; DINUM and ANCT all: the scope's
    kind and its value (issue 28: a lean read's statement is built once per kind)."""
    if principal.role is Role.PREFECT:
        return "prefect", principal.departement
    if principal.is_national:
        return "national", None
    return "none", None


def committee_scope_clause(kind: str, value: Any) -> ColumnElement[bool] | None:
    """The clause of a scope of this kind on `value` (a literal or a bind parameter)."""
    if kind == "prefect":
        in_departement: ColumnElement[bool] = col(Committee.departement) == value
        return in_departement
    if kind == "national":
        return None
    return false()


def _scoped(stmt: Any, principal: Principal) -> Any:
    """R-ACL-1: `stmt` restricted to the committees the principal reaches."""
    clause = committee_scope_clause(*committee_scope(principal))
    return stmt if clause is None else stmt.where(clause)


async def get_committee(
    session: AsyncSession, principal: Principal, *, committee_id: uuid.UUID, lock: bool = False
) -> Committee:
    """A committee in scope, else 404 (R-ACL-1); `lock` takes its row lock (writes)."""
    stmt = _scoped(select(Committee), principal).where(col(Committee.id) == committee_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    committee: Committee | None = (await session.execute(stmt)).scalar_one_or_none()
    if committee is None:
        raise CommitteeNotFound()
    return committee


async def list_committees(
    session: AsyncSession,
    principal: Principal,
    *,
    page: PageParams,
    programme_id: uuid.UUID,
    departement: str | None = None,
    status: CommitteeStatus | None = None,
    updated_since: datetime | None = None,
) -> tuple[list[tuple[Committee, int]], str | None]:
    """Committees of one programme (R-PROG-2) in scope with their agenda size, one keyset
    page."""
    count = (
        select(func.count())
        .where(col(AgendaItem.committee_id) == col(Committee.id), col(AgendaItem.left_at).is_(None))
        .correlate(Committee)
        .scalar_subquery()
    )
    stmt = _scoped(select(Committee, count), principal).where(
        col(Committee.programme_id) == programme_id
    )
    if departement is not None:
        stmt = stmt.where(col(Committee.departement) == departement)
    if status is not None:
        stmt = stmt.where(col(Committee.status) == status.value)
    if updated_since is not None:
        stmt = stmt.where(col(Committee.updated_at) >= updated_since)
    stmt = keyset_page(stmt, Committee.created_at, Committee.id, page)
    rows = [(row[0], int(row[1])) for row in (await session.execute(stmt)).all()]
    return split_page(rows, page, lambda r: (r[0].created_at, r[0].id))


def check_decider(principal: Principal) -> None:
    """R-ACL-1: only a prefecture plans, decides and closes its committees; DINUM and ANCT,
    who read every committee, never decide (403), whatever the route lets through."""
    if principal.role is not Role.PREFECT:
        raise NationalDecider(code="R-ACL-1")


async def writable(
    session: AsyncSession, principal: Principal, committee_id: uuid.UUID, if_match: str | None
) -> Committee:
    """The committee, driven by its prefecture (R-ACL-1: 403), in scope (404), locked, at the
    version the caller read (R-FLOW-3: If-Match missing 428, stale 412), open (R-COM-3: closed
    409; R-COM-2: cancelled 409)."""
    check_decider(principal)  # before any read: the refusal does not depend on the data
    committee = await get_committee(session, principal, committee_id=committee_id, lock=True)
    check_if_match(if_match, committee.version)
    if committee.status == CommitteeStatus.CLOSED.value:
        # R-COM-3: a closed committee is final.
        raise CommitteeClosed(current_status=committee.status)
    if committee.status == CommitteeStatus.CANCELLED.value:
        raise CommitteeCancelled(code="R-COM-2", current_status=committee.status)
    return committee


async def changed(
    session: AsyncSession,
    principal: Principal,
    committee: Committee,
    action: str,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    created: bool = False,
) -> None:
    """The end of every write of a committee: its version moves (a concurrent writer: 412,
    R-FLOW-3), then the change is audited in the caller's transaction (R-AUDIT-1). A committee
    just `created` is audited as flushed, at its first version."""
    if not created:
        committee.updated_at = utcnow()
        await flush_versioned(session)
    await audit.record(
        session,
        principal,
        object_type="committee",
        object_id=committee.id,
        departement=committee.departement,
        action=action,
        before=before,
        after=after,
    )
