"""R-NOTIF-1: e-mails rendered from the templates kept as files (templates/<kind>.txt.j2 and
.html.j2, Jinja2, HTML autoescaped), and the MIME message built from them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.notifications.rules import Kind, date_fr, euros

TEMPLATES = Path(__file__).parent / "templates"


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _euros(value: Any) -> str:
    return euros(int(value or 0))


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,  # a missing fact fails the render, never a blank
        keep_trailing_newline=True,
    )
    env.filters["euros"] = _euros
    env.filters["date_fr"] = lambda value: date_fr(_as_date(value))
    return env


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def link_for(kind: Kind, context: dict[str, Any], frontend_url: str) -> str:
    base = frontend_url.rstrip("/")
    if kind is Kind.COMMITTEE_DUE:
        return f"{base}/comites?departement={context['departement']}"
    return f"{base}/dossiers/{context['project_id']}"


def render(kind: Kind, context: dict[str, Any], frontend_url: str) -> Rendered:
    env = environment()
    values = {"contact_name": None, **context, "link": link_for(kind, context, frontend_url)}
    text_template = env.get_template(f"{kind.value}.txt.j2")
    subject, _, text = text_template.render(values).partition("\n")
    html = env.get_template(f"{kind.value}.html.j2").render(values)
    # One line; the no-break spaces of amounts are kept (str.split() would break them).
    subject = re.sub(r"[ \t\r\n]+", " ", subject).strip()
    return Rendered(subject=subject, text=text.lstrip("\n"), html=html)


def build_message(
    rendered: Rendered, *, sender: str, recipient: str, message_id: str
) -> EmailMessage:
    """multipart/alternative: the plain text first, the HTML second, both UTF-8 in
    quoted-printable (7-bit clean: a relay without 8BITMIME carries the accents too)."""
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = recipient
    message["Message-ID"] = message_id
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
    message.set_content(rendered.text, charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


# Demonstration facts for the preview (GET /notifications/preview/{kind}), so that a
# prefecture can read what will be sent.
_DOSSIER = {
    "project_id": "0b0e6a1e-3c1d-4e9b-9a55-2f1f8f1f2a10",
    "reference": "GUICHET-13-0B0E6A1E",
    "title": "Portail citoyen de la commune",
    "departement": "13",
    "candidate_name": "Commune de Marseille",
    "contact_name": "Marie Martin",
}
DEMO: dict[Kind, dict[str, Any]] = {
    Kind.SUBMISSION_RECEIPT: {**_DOSSIER, "submitted_on": "2021-03-01"},
    Kind.RETURNED: {
        **_DOSSIER,
        "message": "Merci de joindre le devis du prestataire et le plan de financement signé.",
    },
    Kind.DECISION: {
        **_DOSSIER,
        "outcome": "accepted",
        "granted_cents": 1_250_000,
        "motivation": None,
        "meeting_on": "2021-04-12",
    },
    Kind.CONVENTION: {
        **_DOSSIER,
        "convention_reference": "CONV-13-2021-004",
        "signed_on": "2021-05-03",
        "grant_cents": 1_250_000,
    },
    Kind.PAYMENT: {
        **_DOSSIER,
        "amount_cents": 375_000,
        "paid_on": "2021-06-01",
        "grant_cents": 1_250_000,
        "paid_cents": 375_000,
        "remaining_cents": 875_000,
        "payment_kind": "advance",
    },
    Kind.SUBMISSION_RECEIVED: {
        **_DOSSIER,
        "contact_name": None,
        "submitted_on": "2021-03-01",
        "requested_cents": 1_500_000,
    },
    Kind.COMMITTEE_DUE: {
        "departement": "13",
        "contact_name": None,
        "due_on": "2021-04-01",
        "reason": "threshold",
        "submitted_since_last": 10,
        "waiting": 12,
        "since": None,
    },
}
