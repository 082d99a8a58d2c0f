"""R-NOTIF-1 as pure functions: who is told what about an audit event, the French formats of
amounts and dates, the Message-ID, masked addresses and the retry schedule.

No notification carries an evaluation or a score (R-EVAL-4): the plans below only read the
dossier's status, the committee's outcome and amounts, the convention and payments.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

NARROW_NBSP = "\u202f"  # French digit grouping (CLDR fr): 12 500,00 €
NBSP = "\u00a0"  # before the € sign (CLDR fr), so an amount never breaks across lines
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
# Message-IDs are UUIDv5 under this namespace, from the event key and the audience.
MESSAGE_NAMESPACE = uuid.UUID("7f3c1c52-51a8-4c52-9a53-0f9d3e1b6a11")


class Audience(StrEnum):
    """Destinataire d'un courriel : le contact du candidat ou la préfecture du département."""

    CANDIDATE = "candidate"  # the candidate's contact
    PREFECTURE = "prefecture"  # the département's prefecture address


class Kind(StrEnum):
    """Modèle de courriel (R-NOTIF-1) : accusé de dépôt, renvoi pour compléments, décision du
    comité, convention, versement (au candidat) ; dépôt, comité dû (à la préfecture)."""

    # The templates: app/notifications/templates/<kind>.txt.j2 and .html.j2.

    SUBMISSION_RECEIPT = "submission_receipt"  # to the candidate
    RETURNED = "returned"  # to the candidate
    DECISION = "decision"  # to the candidate, once the committee is closed
    CONVENTION = "convention"  # to the candidate
    PAYMENT = "payment"  # to the candidate
    SUBMISSION_RECEIVED = "submission_received"  # to the prefecture
    COMMITTEE_DUE = "committee_due"  # to the prefecture (R-COM-1)


AUDIENCE_OF = {
    Kind.SUBMISSION_RECEIPT: Audience.CANDIDATE,
    Kind.RETURNED: Audience.CANDIDATE,
    Kind.DECISION: Audience.CANDIDATE,
    Kind.CONVENTION: Audience.CANDIDATE,
    Kind.PAYMENT: Audience.CANDIDATE,
    Kind.SUBMISSION_RECEIVED: Audience.PREFECTURE,
    Kind.COMMITTEE_DUE: Audience.PREFECTURE,
}

# Dossiers imported from démarches-simplifiées: DS e-mails its applicant itself at the deposit
# (its own receipt) and at each decision this service writes back (dossierAccepter,
# dossierRefuser: app/ds), so those two are not sent by this service. A return for completion
# is not written back to DS, and the convention and payments are unknown to DS: those are sent.
TOLD_BY_DS = frozenset({Kind.SUBMISSION_RECEIPT, Kind.DECISION})


@dataclass(frozen=True)
class Planned:
    """One notification an audit event calls for: its template, the dossier it concerns,
    the key that makes it unique with its audience (R-NOTIF-1) and the event's own facts."""

    kind: Kind
    project_id: str
    event_key: str
    facts: Mapping[str, Any]

    @property
    def audience(self) -> Audience:
        return AUDIENCE_OF[self.kind]


def plan(event: Mapping[str, Any]) -> list[Planned]:
    """R-NOTIF-1: the notifications an audit event (a dict of AuditEvent's columns) calls for.
    A committee's decisions are told when it closes (one per decided dossier), never earlier."""
    object_type, action = event["object_type"], event["action"]
    after: Mapping[str, Any] = event.get("after") or {}
    key = str(event["id"])
    if object_type == "project" and action == "status_changed":
        transition = after.get("transition")
        project = str(event["object_id"])
        if transition == "submit":
            return [
                Planned(Kind.SUBMISSION_RECEIPT, project, key, {}),
                Planned(Kind.SUBMISSION_RECEIVED, project, key, {}),
            ]
        if transition == "return":
            return [Planned(Kind.RETURNED, project, key, {"message": after.get("message")})]
        return []
    if object_type == "committee" and action == "closed":
        decisions = after.get("decisions")
        if not isinstance(decisions, list):
            return []  # not the committees domain's close summary
        return [
            Planned(
                Kind.DECISION,
                str(d["project_id"]),
                f"{key}:{d['project_id']}",
                {
                    "outcome": d["outcome"],
                    "granted_cents": d.get("granted_cents"),
                    "committee_id": str(event["object_id"]),
                },
            )
            for d in decisions
            if isinstance(d, dict) and d.get("outcome") in ("accepted", "rejected")
        ]
    if object_type == "convention" and action == "signed" and after.get("project_id"):
        return [
            Planned(
                Kind.CONVENTION,
                str(after["project_id"]),
                key,
                {"reference": after.get("reference"), "signed_on": after.get("signed_on")},
            )
        ]
    if object_type == "payment" and action == "recorded" and after.get("project_id"):
        return [
            Planned(
                Kind.PAYMENT,
                str(after["project_id"]),
                key,
                {
                    "amount_cents": after.get("amount_cents"),
                    "paid_on": after.get("paid_on"),
                    "payment_kind": after.get("kind"),
                },
            )
        ]
    return []


def due_key(programme_id: uuid.UUID, departement: str, since: str | None) -> str:
    """R-COM-1: one committee-due notice per département and period between two closed
    committees (`since`: the last close, or none before the first committee)."""
    return f"due:{programme_id}:{departement}:{since or 'first'}"


def message_id(event_key: str, audience: str, domain: str) -> str:
    """R-NOTIF-1: derived from the event and the recipient, so a resend is recognisable."""
    return f"<{uuid.uuid5(MESSAGE_NAMESPACE, f'{event_key}|{audience}')}@{domain}>"


# The prefix of a dossier's reference in e-mails: the guichet's, whatever the dossier's programme
# (issue 26: no call named in code; a dossier's id is unique across programmes, and the e-mail
# names the programme in its text when it matters).
REFERENCE_PREFIX = "GUICHET"


def dossier_reference(project_id: uuid.UUID | str, departement: str) -> str:
    """The reference an e-mail names a dossier by: the guichet's prefix, the département and
    the id's first eight hexadecimal digits (the full id is in the link)."""
    return f"{REFERENCE_PREFIX}-{departement}-{str(project_id).replace('-', '')[:8].upper()}"


# -- formats -----------------------------------------------------------------------------------


def euros(cents: int) -> str:
    """12 500,00 € (CLDR fr: narrow no-break space between thousands, no-break space before €)."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    grouped = f"{whole:,}".replace(",", NARROW_NBSP)
    return f"{sign}{grouped},{rest:02d}{NBSP}€"


def date_fr(day: date) -> str:
    """1er mars 2021, 12 avril 2021."""
    number = "1er" if day.day == 1 else str(day.day)
    return f"{number} {MONTHS[day.month - 1]} {day.year}"


def mask(address: str) -> str:
    """m***@mairie-x.fr: the first letter of the local part, the domain kept."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


_ADDRESS = re.compile(r"[^\s<>@:;,()\[\]\"']+@[^\s<>@:;,()\[\]\"']+")


def redact(text: str) -> str:
    """Every address in a relay's answer masked, before it is stored or shown (personal
    data): `550 <marie@mairie-x.fr> inconnu` → `550 <m***@mairie-x.fr> inconnu`."""
    return _ADDRESS.sub(lambda found: mask(found.group()), text)


def retry_delay(attempts: int, max_attempts: int) -> timedelta | None:
    """After `attempts` failed tries: wait 30 s, 1 min, 2 min… (at most an hour), or give up
    (None) once `max_attempts` were made."""
    if attempts >= max_attempts:
        return None
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))
