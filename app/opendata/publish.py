"""Writes the published rows (`PublishedGrant`, issue 28) in the transaction of each change.

Registered on the audit trail's append (`app.audit.service.on_append`, as the webhooks' outbox
and the notifications are): every change of the domains is audited in its own transaction
(R-AUDIT-1), so the events appended at its commit name every grant whose row may change: the
convention's signature, a payment, the grant's own events (settlement, cancellation, final
report), and the changes of what a row shows from elsewhere (the beneficiary's name or
SIRET, the dossier's title or strand, the prefecture's identity, the programme's SCDL
dispositif). The rows of those grants
are computed again from the domains' tables as they stand at the commit
(`repository.computed_rows_stmt`, what the export computed at read time before) and written
where they differ, in one statement each way. The domains know nothing of it.

The listener runs under the audit chain head's lock, after the change's own statements: one
SELECT, then at most one INSERT and one UPDATE (executemany).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import bindparam, insert, or_, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from app.audit import service as audit_service
from app.budgets.models import Grant
from app.core.types import utcnow
from app.opendata.repository import PROGRAMME_AT, PUBLISHED, ROW_COLUMNS, computed_rows_stmt
from app.opendata.sql import split_due_summary
from app.projects.models import Project

# The fields of other objects that a published row shows (an event that changes none of them
# leaves the rows alone).
_SHOWN: Mapping[str, frozenset[str]] = {
    "candidate": frozenset({"name", "siret"}),
    "project": frozenset({"title", "strand"}),
    "envelope": frozenset({"prefecture_name", "prefecture_siret", "departement"}),
    "programme": frozenset({"dispositif_aide"}),
}


def _ids(values: Iterable[Any]) -> list[uuid.UUID]:
    return sorted({uuid.UUID(str(v)) for v in values})


def affected(events: Sequence[Mapping[str, Any]]) -> ColumnElement[bool] | None:
    """The grants whose published row these audit events may change (None: no grant)."""
    grants: list[Any] = []
    projects: list[Any] = []
    candidates: list[Any] = []
    envelopes: list[Any] = []
    programmes: list[Any] = []
    for event in events:
        kind, after = event["object_type"], event["after"] or {}
        if kind == "programme":  # its SCDL dispositifAide, when it changed
            before = event.get("before") or {}
            if any(after.get(f) != before.get(f) for f in _SHOWN[kind] & after.keys()):
                programmes.append(event["object_id"])
        elif kind == "grant":  # committed, final report, closed (settled), cancelled
            grants.append(event["object_id"])
        elif kind == "payment" and after.get("grant_id"):
            grants.append(after["grant_id"])
        elif kind == "convention" and after.get("project_id"):
            projects.append(after["project_id"])
        elif kind in _SHOWN and _SHOWN[kind] & after.keys():
            {"project": projects, "candidate": candidates, "envelope": envelopes}[kind].append(
                event["object_id"]
            )
    clauses = [
        column.in_(_ids(values))
        for column, values in (
            (col(Grant.id), grants),
            (col(Grant.project_id), projects),
            (col(Project.candidate_id), candidates),
            (col(Grant.envelope_id), envelopes),
            (col(Project.programme_id), programmes),
        )
        if values
    ]
    return or_(*clauses) if clauses else None


def computed(row: Sequence[Any]) -> tuple[Any, ...]:
    """A computed row (`computed_rows_stmt`) as the table holds it (`ROW_COLUMNS`)."""
    count, first, last = split_due_summary(row[10])
    return (
        *row[:9],
        int(row[9]),
        count,
        date.fromisoformat(first) if first else None,
        date.fromisoformat(last) if last else None,
        row[11],
        int(row[12]),
        row[13],
    )


_UPDATE = (
    update(PUBLISHED)
    .where(PUBLISHED.c.grant_id == bindparam("p_grant_id", type_=PUBLISHED.c.grant_id.type))
    .values(
        {
            name: bindparam(f"p_{name}", type_=PUBLISHED.c[name].type)
            for name in (*ROW_COLUMNS[1:], "updated_at")
        }
    )
)


def refresh(session: Session, where: ColumnElement[bool] | None) -> int:
    """Write the published rows of the grants `where` selects (every grant when it is None)
    as the domains' tables give them now; a row that did not change keeps its `updated_at`.
    Returns how many rows were written."""
    stmt = computed_rows_stmt(*([] if where is None else [where]))
    stmt = stmt.outerjoin(PUBLISHED, PUBLISHED.c.grant_id == col(Grant.id)).add_columns(
        *(PUBLISHED.c[name] for name in ROW_COLUMNS)
    )
    width = len(ROW_COLUMNS)
    now = utcnow()
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for row in session.execute(stmt):
        now_shown, stored = computed(row[:-width]), tuple(row[-width:])
        if now_shown == stored:
            continue
        values = dict(zip(ROW_COLUMNS, now_shown, strict=True))
        if stored[0] is None:
            programme = row[PROGRAMME_AT]  # R-PROG-2
            new.append({**values, "programme_id": programme, "updated_at": now})
        else:
            changed.append({f"p_{k}": v for k, v in values.items()} | {"p_updated_at": now})
    if new:
        session.execute(insert(PUBLISHED), new)
    if changed:
        session.execute(_UPDATE, changed)
    return len(new) + len(changed)


@audit_service.on_append
def _publish(session: Session, events: list[dict[str, Any]]) -> None:
    """Issue 28: the published rows follow the changes just appended, in their transaction."""
    where = affected(events)
    if where is not None:
        refresh(session, where)
