"""Writing decisions back to DS (issue 14): the outbox of mutations, and a dossier's DS side.

A listener on the audit trail (`audit.on_append`) queues the DS mutations of each decision in
its own transaction; the worker (`app.ds.worker`) delivers them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col, select

from app.audit import service as audit
from app.auth.principal import Principal
from app.ds.errors import DemarcheNotFound
from app.ds.models import DsDossier, DsMutation
from app.ds.rules import (
    STATE_AFTER,
    MutationKind,
    accept_motivation,
    mutations_for,
)
from app.projects import (
    reads as projects_reads,
    transitions as projects_transitions,
)
from app.projects.display import euros
from app.projects.lifecycle_rules import Action
from app.projects.models import Project


def real_now() -> datetime:
    return datetime.now(UTC)


def _project_message(session: Session, project_id: str) -> str | None:
    table = Project.__table__  # type: ignore[attr-defined]
    return session.execute(
        select(table.c.status_message).where(table.c.id == uuid.UUID(project_id))
    ).scalar_one_or_none()


def _decisions(events: list[dict[str, Any]]) -> list[tuple[str, MutationKind, dict[str, Any]]]:
    """(project id, mutation, facts) for each event that DS must hear of, in chain order."""
    found: list[tuple[str, MutationKind, dict[str, Any]]] = []
    for event in events:
        after = event.get("after") or {}
        if (
            event["object_type"] == "project"
            and event["action"] == projects_transitions.STATUS_CHANGED
        ):
            transition = after.get("transition")
            if transition == Action.START_REVIEW.value:
                found.append((event["object_id"], MutationKind.PASSER_EN_INSTRUCTION, {}))
            elif transition == Action.CLOSE.value:
                found.append((event["object_id"], MutationKind.CLASSER_SANS_SUITE, {}))
        elif event["object_type"] == "committee" and event["action"] == "closed":
            decisions = after.get("decisions")
            # the committees domain records the list of decisions at close (anything else,
            # e.g. a bare count, names no dossier)
            for decision in decisions if isinstance(decisions, list) else []:
                if decision.get("outcome") == "accepted":
                    found.append((str(decision["project_id"]), MutationKind.ACCEPTER, decision))
                elif decision.get("outcome") == "rejected":
                    found.append((str(decision["project_id"]), MutationKind.REFUSER, decision))
    return found


@audit.on_append
def _write_back(session: Session, events: list[dict[str, Any]]) -> None:
    """Issue 14: the DS mutations of these events, queued in their transaction (a rolled-back
    change sends nothing; a DS outage delays, never loses). Only dossiers imported from DS."""
    decisions = _decisions(events)
    if not decisions:
        return
    ids = {uuid.UUID(pid) for pid, _, _ in decisions}
    links = {
        str(link.project_id): link
        for link in session.execute(
            select(DsDossier).where(col(DsDossier.project_id).in_(ids))
        ).scalars()
    }
    if not links:
        return
    now = real_now()
    rows = []
    states = {pid: link.ds_state for pid, link in links.items()}
    for project_id, decision, facts in decisions:
        link = links.get(project_id)
        if link is None:
            continue
        for kind in mutations_for(states[project_id], decision):
            motivation = None
            if kind is MutationKind.ACCEPTER:
                granted = int(facts.get("granted_cents") or 0)
                motivation = accept_motivation(granted, euros(granted), None)
            elif kind in (MutationKind.REFUSER, MutationKind.CLASSER_SANS_SUITE):
                motivation = _project_message(session, project_id) or (
                    "Dossier non retenu par le comité de sélection."
                    if kind is MutationKind.REFUSER
                    else "Dossier classé sans suite par la préfecture."
                )
            rows.append(
                {
                    "project_id": link.project_id,
                    "dossier_id": link.dossier_id,
                    "dossier_number": link.dossier_number,
                    "departement": link.departement,
                    "kind": kind.value,
                    "motivation": motivation,
                    "client_mutation_id": str(uuid.uuid4()),
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "attempt_log": [],
                    "created_at": now,
                }
            )
            states[project_id] = STATE_AFTER[kind].value
    if rows:
        session.execute(insert(DsMutation), rows)
        for project_id, link in links.items():
            if states[project_id] != link.ds_state:  # the state asked of DS
                session.execute(
                    update(DsDossier)
                    .where(col(DsDossier.project_id) == link.project_id)
                    .values(ds_state=states[project_id])
                    .execution_options(synchronize_session=False)
                )


async def project_ds(
    session: AsyncSession, principal: Principal, *, project_id: uuid.UUID
) -> tuple[DsDossier, list[DsMutation]]:
    """A dossier's DS side: its DS number and id, the DS state, a flag, the write-back's
    deliveries (State roles; 404 for a dossier out of scope or not from DS)."""
    await projects_reads.get_project(session, principal, project_id=project_id, with_lines=False)
    link = await session.get(DsDossier, project_id)
    if link is None:
        raise DemarcheNotFound("Ce dossier ne vient pas de démarches-simplifiées.")
    mutations = list(
        (
            await session.execute(
                select(DsMutation)
                .where(DsMutation.project_id == project_id)
                .order_by(col(DsMutation.id))
            )
        ).scalars()
    )
    return link, mutations
