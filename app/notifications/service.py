"""R-NOTIF-1: the e-mail outbox fed by the audit trail, the prefectures' addresses, and what a
dossier's readers may see of its notifications.

`_queue` is registered on the audit trail's append (`app.audit.service.before_append`: it needs
nothing of the chain, so it runs before the chain head's lock is taken, issue 28), as the
webhooks' outbox is on its append: each audit event that concerns someone (`rules.plan`) becomes
one outbox row per recipient, in the same transaction as the change (a rolled-back change tells
no one). The recipient's address and the dossier's facts are read then; the message is rendered
when it is sent (`app.notifications.worker`). A recipient without an address (a candidate registered
without a contact, a département whose prefect has set none) is not queued.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    ColumnElement,
    bindparam,
    func,
    insert,
    select as sa_select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col, select

from app.audit import service as audit_service
from app.auth.principal import Principal, Role
from app.candidates.models import Candidate
from app.core import clock
from app.core.clock import PARIS
from app.core.config import Settings
from app.core.db import transaction_info
from app.core.types import utcnow
from app.notifications.errors import AddressNotFound, NotificationForbidden
from app.notifications.models import Notification, PrefectureAddress
from app.notifications.rules import (
    TOLD_BY_DS,
    Audience,
    Kind,
    Planned,
    dossier_reference,
    message_id,
    plan,
)
from app.projects import hooks as project_hooks
from app.projects.models import Project

# The Message-ID's domain (GUICHET_SMTP_MESSAGE_ID_DOMAIN): the audit hook has no settings at
# hand, so the router's lifespan (create_app) and the worker set it for the process.
_domain = ["guichet-fitn7.example.gouv.fr"]


def use_settings(settings: Settings) -> None:
    _domain[0] = settings.smtp_message_id_domain


def real_now() -> datetime:
    """Sending times are real time, not the business clock of a demonstration."""
    return datetime.now(UTC)


def _paris_day(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(PARIS).date().isoformat()


class _Dossier(NamedTuple):
    """What a notification reads of its dossier, its candidate and its prefecture (one row
    of `_DOSSIERS`)."""

    id: uuid.UUID
    departement: str
    title: str
    submitted_at: datetime | None
    requested_cents: int
    ds_dossier_number: int | None
    candidate_name: str
    contact_email: str | None
    contact_name: str | None
    prefecture_email: str | None


_PROJECT = Project.__table__  # type: ignore[attr-defined]
_CANDIDATE = Candidate.__table__  # type: ignore[attr-defined]
_ADDRESS = PrefectureAddress.__table__  # type: ignore[attr-defined]
# Issue 28: the dossiers of a transaction's notifications, their candidates (inner join: a
# dossier without one is not told) and their prefectures' addresses, in one statement built
# once (it was three ORM reads a notice, the dossier and its candidate read again).
_DOSSIERS = (
    sa_select(
        _PROJECT.c.id,
        _PROJECT.c.departement,
        _PROJECT.c.title,
        _PROJECT.c.submitted_at,
        _PROJECT.c.requested_cents,
        _PROJECT.c.ds_dossier_number,
        _CANDIDATE.c.name,
        _CANDIDATE.c.contact_email,
        _CANDIDATE.c.contact_name,
        _ADDRESS.c.email,
    )
    .select_from(
        _PROJECT.join(_CANDIDATE, _CANDIDATE.c.id == _PROJECT.c.candidate_id).outerjoin(
            _ADDRESS, _ADDRESS.c.departement == _PROJECT.c.departement
        )
    )
    .where(_PROJECT.c.id.in_(bindparam("ids", expanding=True)))
)


# transaction_info: the dossiers a write read with the facts its notices need (`_keep_written`),
# for `_queue` at its commit, by id.
_KNOWN = "notifications.dossiers"
ADDRESSES = "notification_addresses"


def _addresses_column(dialect: str) -> ColumnElement[Any]:
    """Beside a dossier's row (`FROM project`): its candidate's name, contact address and
    contact name, and its prefecture's address, as one JSON array (`WrittenFacts`)."""
    prefecture = (
        sa_select(_ADDRESS.c.email)
        .where(_ADDRESS.c.departement == _PROJECT.c.departement)
        .correlate(_PROJECT)
        .scalar_subquery()
    )
    array = func.json_build_array if dialect == "postgresql" else func.json_array
    found = (
        sa_select(
            array(
                _CANDIDATE.c.name, _CANDIDATE.c.contact_email, _CANDIDATE.c.contact_name, prefecture
            )
        )
        .where(_CANDIDATE.c.id == _PROJECT.c.candidate_id)
        .correlate(_PROJECT)
    )
    return type_coerce(found.scalar_subquery(), JSON)


@project_hooks.on_written(ADDRESSES, _addresses_column)
def _keep_written(session: AsyncSession, project: Project, value: Any) -> None:
    """R-NOTIF-1: the dossier as written, with the addresses read beside it, for `_queue` (issue
    28: the notices of a submission need no statement of their own)."""
    if value is None:
        return  # no candidate: `_queue` reads it (and tells no one)
    name, contact_email, contact_name, prefecture_email = value
    transaction_info(session).setdefault(_KNOWN, {})[project.id] = _Dossier(
        project.id,
        project.departement,
        project.title,
        project.submitted_at,
        project.requested_cents,
        project.ds_dossier_number,
        name,
        contact_email,
        contact_name,
        prefecture_email,
    )


def _dossier(project: _Dossier) -> dict[str, Any]:
    return {
        "project_id": str(project.id),
        "reference": dossier_reference(project.id, project.departement),
        "title": project.title,
        "departement": project.departement,
        "candidate_name": project.candidate_name,
    }


def _kind_facts(session: Session, planned: Planned, project: _Dossier) -> dict[str, Any]:
    """The facts a template needs beyond the dossier's, read in the event's transaction."""
    from app.budgets.models import Grant
    from app.committees.models import AgendaItem, Committee

    facts = dict(planned.facts)
    if planned.kind in (Kind.SUBMISSION_RECEIPT, Kind.SUBMISSION_RECEIVED):
        facts["submitted_on"] = _paris_day(project.submitted_at or utcnow())
        facts["requested_cents"] = project.requested_cents
    elif planned.kind is Kind.DECISION:
        committee_id = uuid.UUID(str(facts.pop("committee_id")))
        item = session.execute(
            select(col(AgendaItem.motivation), col(Committee.meeting_on))
            .join(Committee, col(Committee.id) == AgendaItem.committee_id)
            .where(
                col(AgendaItem.committee_id) == committee_id,
                col(AgendaItem.project_id) == project.id,
            )
        ).first()
        facts["motivation"] = item[0] if item else None
        facts["meeting_on"] = item[1].isoformat() if item else None
    elif planned.kind in (Kind.CONVENTION, Kind.PAYMENT):
        grant = session.execute(select(Grant).where(col(Grant.project_id) == project.id)).scalar()
        amount = grant.amount_cents if grant else 0
        paid = grant.paid_cents if grant else 0
        facts.update(grant_cents=amount, paid_cents=paid, remaining_cents=max(0, amount - paid))
        if planned.kind is Kind.CONVENTION:
            facts["convention_reference"] = facts.pop("reference", None)
    return facts


def _row(planned: Planned, recipient: str, context: dict[str, Any], now: datetime) -> Any:
    return {
        "event_key": planned.event_key,
        "audience": planned.audience.value,
        "kind": planned.kind.value,
        "message_id": message_id(planned.event_key, planned.audience.value, _domain[0]),
        "recipient": recipient,
        "project_id": uuid.UUID(planned.project_id),
        "departement": context.get("departement"),
        "context": context,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


@audit_service.before_append
def _queue(session: Session, events: list[dict[str, Any]]) -> None:
    """R-NOTIF-1: the outbox rows of these audit events, in their transaction."""
    planned = [p for event in events for p in plan(event)]
    if not planned:
        return
    ids = sorted({uuid.UUID(item.project_id) for item in planned})
    known: dict[uuid.UUID, _Dossier] = transaction_info(session).pop(_KNOWN, {})
    found = {i: known[i] for i in ids if i in known}  # read with the write (`_keep_written`)
    missing = [i for i in ids if i not in found]
    if missing:
        found.update(
            (row[0], _Dossier._make(row))
            for row in session.connection().execute(_DOSSIERS, {"ids": missing}).all()
        )
    now = real_now()
    rows = []
    for item in planned:
        project = found.get(uuid.UUID(item.project_id))
        if project is None:
            continue  # no such dossier, or no candidate
        if item.kind in TOLD_BY_DS and project.ds_dossier_number is not None:
            continue  # démarches-simplifiées tells its applicant (its write-back)
        if item.audience is Audience.CANDIDATE:
            recipient = project.contact_email
            contact_name = project.contact_name
        else:
            recipient = project.prefecture_email
            contact_name = None
        if not recipient:
            continue  # no address: nothing can be sent (see the README)
        context = {
            **_dossier(project),
            "contact_name": contact_name,
            **_kind_facts(session, item, project),
        }
        rows.append(_row(item, recipient, context, now))
    if rows:
        session.execute(insert(Notification), rows)


def insert_once(row: dict[str, Any], dialect: str) -> Any:
    """INSERT … ON CONFLICT DO NOTHING: a row already queued under its (event_key, audience),
    or its Message-ID derived from them, is left as it is (instances racing on one notice)."""
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(Notification).values(**row).on_conflict_do_nothing()


async def queue_committee_due(session: AsyncSession, *, programme_code: str) -> int:
    """R-COM-1: tell each prefecture whose committee is due, once per period between two
    closed committees (the key holds the last close): not again at each submission after.
    The due computation is the committees domain's (`committee_status`)."""
    from app.committees import due as committees_due
    from app.notifications.rules import due_key
    from app.programme.service import get_programme

    programme = await get_programme(session, programme_code)
    statuses = await committees_due.committee_status(
        session, Principal("notifications", Role.DINUM), programme=programme
    )
    due = [s for s in statuses if s.reason is not None]
    if not due:
        return 0
    addresses = {
        a.departement: a.email
        for a in (
            await session.execute(
                select(PrefectureAddress).where(
                    col(PrefectureAddress.departement).in_([s.departement for s in due])
                )
            )
        ).scalars()
    }
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    now = real_now()
    queued = 0
    for status in due:
        recipient = addresses.get(status.departement)
        if recipient is None:
            continue
        since = status.since.isoformat() if status.since else None
        key = due_key(programme.id, status.departement, since)
        context = {
            "departement": status.departement,
            "contact_name": None,
            "due_on": clock.today().isoformat(),  # the service's day (R-ELIG-8 demos)
            "reason": status.reason.value if status.reason else None,
            "submitted_since_last": status.submitted_since_last,
            "waiting": status.waiting,
            "since": since,
        }
        row = {
            "event_key": key,
            "audience": Audience.PREFECTURE.value,
            "kind": Kind.COMMITTEE_DUE.value,
            "message_id": message_id(key, Audience.PREFECTURE.value, _domain[0]),
            "recipient": recipient,
            "project_id": None,
            "departement": status.departement,
            "context": context,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        result = await session.execute(insert_once(row, dialect))
        queued += result.rowcount or 0  # type: ignore[attr-defined]
    return queued


# -- addresses ---------------------------------------------------------------------------------


def check_prefecture_scope(principal: Principal, departement: str) -> None:
    """The prefect of that département or DINUM; another prefect: 404 (R-ACL-1)."""
    if principal.role is Role.DINUM:
        return
    if principal.role is Role.PREFECT:
        if principal.departement != departement:
            raise AddressNotFound(code="R-ACL-1")
        return
    raise NotificationForbidden()


async def get_prefecture_address(
    session: AsyncSession, principal: Principal, *, departement: str
) -> PrefectureAddress:
    check_prefecture_scope(principal, departement)
    found = await session.get(PrefectureAddress, departement)
    if found is None:
        raise AddressNotFound()
    return found


async def set_prefecture_address(
    session: AsyncSession, principal: Principal, *, departement: str, email: str
) -> tuple[PrefectureAddress, bool]:
    """Set (or replace) the département's address; returns it and whether it was created.
    Audited without the address itself (personal data stays out of the trail)."""
    check_prefecture_scope(principal, departement)
    found = await session.get(PrefectureAddress, departement)
    created = found is None
    if found is None:
        found = PrefectureAddress(departement=departement, email=email, updated_by="")
        session.add(found)
    changed = created or found.email != email
    found.email = email
    found.updated_by = principal.subject
    found.updated_at = utcnow()
    await session.flush()
    if changed:
        await audit_service.record(
            session,
            principal,
            object_type="notification_address",
            object_id=departement,
            departement=departement,
            action="created" if created else "updated",
            after={"address_set": True},
        )
    return found, created


# -- reading -----------------------------------------------------------------------------------


async def list_for_project(
    session: AsyncSession, principal: Principal, *, project_id: uuid.UUID
) -> list[Notification]:
    """The notifications of a dossier, oldest first: DINUM, or the prefect of its département
    (R-ACL-1: 404 outside, through the projects domain's own scope)."""
    from app.projects import reads as projects_reads

    if principal.role not in (Role.DINUM, Role.PREFECT):
        raise NotificationForbidden()
    await projects_reads.get_project(session, principal, project_id=project_id)
    stmt = (
        select(Notification)
        .where(col(Notification.project_id) == project_id)
        .order_by(col(Notification.id))
    )
    return list((await session.execute(stmt)).scalars().all())
