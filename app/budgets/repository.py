"""Queries on envelopes; visibility decided here, once (R-ACL-1)."""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any, Literal, NamedTuple

from sqlalchemy import ColumnElement, Select, bindparam, false, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.auth.principal import Principal, Role
from app.budgets.models import Envelope, Grant
from app.projects.models import Project

ScopeKind = Literal["departement", "all", "none"]


class EnvelopeScope(NamedTuple):
    """Which envelopes a principal may read (R-ACL-1): the kind of clause, and its parameters."""

    kind: ScopeKind
    params: dict[str, Any]


def envelope_scope(principal: Principal) -> EnvelopeScope:
    """R-ACL-1, the one place envelope visibility is decided: a prefect reads its département's
    envelopes, DINUM and ANCT all of them, anyone else none."""
    if principal.role is Role.PREFECT:
        return EnvelopeScope("departement", {"scope_departement": principal.departement})
    if principal.is_national:
        return EnvelopeScope("all", {})
    return EnvelopeScope("none", {})


@cache
def envelope_scope_clause(kind: ScopeKind) -> ColumnElement[bool]:
    """The WHERE clause of an `envelope_scope` kind, built once; its parameter (the prefect's
    département) is bound at execution (`EnvelopeScope.params`)."""
    if kind == "departement":
        return col(Envelope.departement) == bindparam("scope_departement")
    return true() if kind == "all" else false()


@cache
def _envelope_stmt(fresh: bool) -> Select[Envelope]:
    """Built once and executed with parameters (issue 13: building it was a tenth of an
    envelope read's CPU)."""
    stmt = select(Envelope).where(
        col(Envelope.programme_id) == bindparam("programme_id"),
        col(Envelope.departement) == bindparam("departement"),
    )
    if fresh:
        stmt = stmt.execution_options(populate_existing=True)
    return stmt


async def envelope_for(
    session: AsyncSession, programme_id: uuid.UUID, departement: str, *, fresh: bool = False
) -> Envelope | None:
    params = {"programme_id": programme_id, "departement": departement}
    return (await session.execute(_envelope_stmt(fresh), params)).scalar_one_or_none()


async def fresh_envelope(session: AsyncSession, envelope_id: uuid.UUID) -> Envelope:
    """The envelope as the database holds it now (after a movement, or to report a refusal)."""
    stmt = (
        select(Envelope).where(Envelope.id == envelope_id).execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one()


async def grant_for_update(session: AsyncSession, project_id: uuid.UUID) -> Grant | None:
    """The grant row, locked until the end of the transaction (a no-op on SQLite, where
    BEGIN IMMEDIATE already serialises writers)."""
    stmt = (
        select(Grant)
        .where(Grant.project_id == project_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def grant_status_fact(_caller: ColumnElement[str]) -> ColumnElement[Any]:
    """The status of the dossier's grant (None without one), correlated to `Project.id`: a
    fact of `final-report` in `allowed_actions` (R-FLOW-1, issue 12)."""
    return select(Grant.status).where(Grant.project_id == Project.id).scalar_subquery()


def final_report_recorded_fact(_caller: ColumnElement[str]) -> ColumnElement[Any]:
    """Whether the dossier's grant has its final report (R-PAY-2: once), correlated to
    `Project.id`."""
    return (
        select(Grant.id)
        .where(Grant.project_id == Project.id, col(Grant.final_report_on).is_not(None))
        .exists()
    )
