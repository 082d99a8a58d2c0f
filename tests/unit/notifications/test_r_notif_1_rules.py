"""R-NOTIF-1 pure rules: who is told what, French formats, Message-IDs, masking, retries, and
the templates rendered (escaped HTML, no evaluation, R-EVAL-4)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from app.core.emails import normalised_email
from app.notifications.render import DEMO, build_message, render
from app.notifications.rules import (
    Audience,
    Kind,
    Planned,
    date_fr,
    dossier_reference,
    due_key,
    euros,
    mask,
    message_id,
    plan,
    redact,
    retry_delay,
)

EVENT = uuid.UUID("11111111-2222-3333-4444-555555555555")
PROJECT = "0b0e6a1e-3c1d-4e9b-9a55-2f1f8f1f2a10"


def event(object_type: str, action: str, after: dict[str, object]) -> dict[str, object]:
    return {
        "id": EVENT,
        "object_type": object_type,
        "object_id": PROJECT,
        "action": action,
        "after": after,
    }


def test_r_notif_1_amounts_the_french_way() -> None:
    assert euros(1_250_000) == "12\u202f500,00\u00a0€"
    assert euros(5) == "0,05\u00a0€"
    assert euros(123_456_789_01) == "123\u202f456\u202f789,01\u00a0€"
    assert euros(-100) == "-1,00\u00a0€"


def test_r_notif_1_dates_written_out() -> None:
    assert date_fr(date(2021, 3, 1)) == "1er mars 2021"
    assert date_fr(date(2021, 8, 12)) == "12 août 2021"
    assert date_fr(date(2021, 12, 31)) == "31 décembre 2021"


def test_r_notif_1_masked_recipient() -> None:
    assert mask("marie.martin@mairie-x.fr") == "m***@mairie-x.fr"


def test_r_notif_1_relay_answers_redacted() -> None:
    said = "SMTP 550: 5.1.1 <marie.martin@mairie-x.fr>: Recipient address rejected"
    assert redact(said) == "SMTP 550: 5.1.1 <m***@mairie-x.fr>: Recipient address rejected"
    assert redact("451 4.7.1 Réessayez plus tard") == "451 4.7.1 Réessayez plus tard"


def test_r_notif_1_message_id_from_event_and_recipient() -> None:
    a = message_id(str(EVENT), "candidate", "example.fr")
    assert a == message_id(str(EVENT), "candidate", "example.fr")  # stable across resends
    assert a != message_id(str(EVENT), "prefecture", "example.fr")
    assert a != message_id(str(uuid.uuid4()), "candidate", "example.fr")
    assert a.startswith("<") and a.endswith("@example.fr>")


def test_r_notif_1_addresses_validated() -> None:
    assert normalised_email("Marie.Martin@Mairie-X.fr") == "Marie.Martin@mairie-x.fr"
    for bad in ("marie", "marie@", "marie@@x.fr", "marie martin@x.fr", "m@x"):
        with pytest.raises(ValueError, match="adresse électronique invalide"):
            normalised_email(bad)


def test_r_notif_1_who_is_told_what() -> None:
    submit = plan(event("project", "status_changed", {"transition": "submit"}))
    assert [(p.kind, p.audience) for p in submit] == [
        (Kind.SUBMISSION_RECEIPT, Audience.CANDIDATE),
        (Kind.SUBMISSION_RECEIVED, Audience.PREFECTURE),
    ]
    returned = plan(event("project", "status_changed", {"transition": "return", "message": "x"}))
    assert [(p.kind, p.facts["message"]) for p in returned] == [(Kind.RETURNED, "x")]
    # the dossier's own accept/reject transition tells no one: the committee's close does
    for transition in ("accept", "reject", "start_review", "withdraw"):
        assert plan(event("project", "status_changed", {"transition": transition})) == []
    other = str(uuid.uuid4())
    closed = plan(
        event(
            "committee",
            "closed",
            {
                "decisions": [
                    {"project_id": PROJECT, "outcome": "accepted", "granted_cents": 100},
                    {"project_id": other, "outcome": "rejected", "granted_cents": None},
                    {"project_id": str(uuid.uuid4()), "outcome": "deferred"},
                ]
            },
        )
    )
    assert [(p.kind, p.project_id) for p in closed] == [
        (Kind.DECISION, PROJECT),
        (Kind.DECISION, other),
    ]
    assert len({p.event_key for p in closed}) == 2  # one key per dossier of the close
    assert plan(event("committee", "closed", {"decisions": 3})) == []  # another summary
    assert [p.kind for p in plan(event("convention", "signed", {"project_id": PROJECT}))] == [
        Kind.CONVENTION
    ]
    assert [p.kind for p in plan(event("payment", "recorded", {"project_id": PROJECT}))] == [
        Kind.PAYMENT
    ]
    # R-EVAL-4: an evaluation tells no one
    assert plan(event("evaluation", "created", {"project_id": PROJECT})) == []


def test_r_notif_1_retries_back_off_then_give_up() -> None:
    assert retry_delay(1, 5) == timedelta(seconds=30)
    assert retry_delay(2, 5) == timedelta(seconds=60)
    assert retry_delay(5, 5) is None
    assert retry_delay(20, 50) == timedelta(hours=1)


@pytest.mark.parametrize("kind", list(Kind))
def test_r_notif_1_every_template_renders_both_parts(kind: Kind) -> None:
    rendered = render(kind, DEMO[kind], "https://guichet.example.fr/")
    assert rendered.subject and "\n" not in rendered.subject
    assert "https://guichet.example.fr/" in rendered.text
    assert 'href="https://guichet.example.fr/' in rendered.html
    for part in (rendered.text, rendered.html):
        assert "évaluation" not in part.lower() and "note" not in part.lower()  # R-EVAL-4


def test_r_notif_1_amounts_and_dates_in_the_message() -> None:
    rendered = render(Kind.DECISION, DEMO[Kind.DECISION], "https://g.fr")
    assert "12\u202f500,00\u00a0€" in rendered.text and "12\u202f500,00\u00a0€" in rendered.html
    assert "12 avril 2021" in rendered.text
    receipt = render(Kind.SUBMISSION_RECEIPT, DEMO[Kind.SUBMISSION_RECEIPT], "https://g.fr")
    assert "1er mars 2021" in receipt.text
    assert "GUICHET-13-0B0E6A1E" in receipt.subject
    payment = render(Kind.PAYMENT, DEMO[Kind.PAYMENT], "https://g.fr")
    assert payment.subject.endswith("versement de 3\u202f750,00\u00a0€")  # the subject too


def test_r_notif_1_html_is_escaped_text_is_plain() -> None:
    context = {**DEMO[Kind.RETURNED], "title": "<script>alert(1)</script>", "message": "a & b"}
    rendered = render(Kind.RETURNED, context, "https://g.fr")
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "a &amp; b" in rendered.html
    assert "<script>alert(1)</script>" in rendered.text  # plain text is not HTML


def test_r_notif_1_message_is_multipart_utf8() -> None:
    rendered = render(Kind.PAYMENT, DEMO[Kind.PAYMENT], "https://g.fr")
    message = build_message(
        rendered, sender="g@x.fr", recipient="m@mairie-x.fr", message_id="<a@x.fr>"
    )
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"
    assert message["Message-ID"] == "<a@x.fr>"
    assert "Reste à verser" in html.get_content()


def test_r_notif_1_zero_amount_has_no_sign() -> None:
    """The boundary of the sign: 0 € is "0,00 €", never "-0,00 €" (a refused dossier's grant)."""
    assert euros(0) == "0,00\u00a0€"
    assert euros(-1) == "-0,01\u00a0€"
    assert euros(1) == "0,01\u00a0€"


def test_r_notif_1_plans_carry_the_dossier_key_and_facts() -> None:
    """Each plan names its dossier, the event's key and the facts its template states (the
    amounts granted and paid, R-NOTIF-1), exactly; other objects' actions plan nothing."""
    key = str(EVENT)
    assert plan(event("project", "status_changed", {"transition": "submit"})) == [
        Planned(Kind.SUBMISSION_RECEIPT, PROJECT, key, {}),
        Planned(Kind.SUBMISSION_RECEIVED, PROJECT, key, {}),
    ]
    returned = {"transition": "return", "message": "x"}
    assert plan(event("project", "status_changed", returned)) == [
        Planned(Kind.RETURNED, PROJECT, key, {"message": "x"})
    ]
    decided = {"decisions": [{"project_id": "p1", "outcome": "accepted", "granted_cents": 100}]}
    assert plan(event("committee", "closed", decided)) == [
        Planned(
            Kind.DECISION,
            "p1",
            f"{key}:p1",
            {"outcome": "accepted", "granted_cents": 100, "committee_id": PROJECT},
        )
    ]
    signed = {"project_id": "p2", "reference": "C-1", "signed_on": "2021-04-12"}
    assert plan(event("convention", "signed", signed)) == [
        Planned(Kind.CONVENTION, "p2", key, {"reference": "C-1", "signed_on": "2021-04-12"})
    ]
    paid = {"project_id": "p3", "amount_cents": 375_000, "paid_on": "2021-05-01", "kind": "advance"}
    assert plan(event("payment", "recorded", paid)) == [
        Planned(
            Kind.PAYMENT,
            "p3",
            key,
            {"amount_cents": 375_000, "paid_on": "2021-05-01", "payment_kind": "advance"},
        )
    ]
    # the same action on another object, or another action on the object: nothing
    for object_type, action, after in [
        ("project", "closed", {"transition": "submit", "decisions": []}),
        ("committee", "status_changed", {"transition": "submit"}),
        ("committee", "updated", {"decisions": []}),
        ("project", "closed", decided),
        ("convention", "recorded", signed),
        ("project", "signed", signed),
        ("payment", "signed", paid),
        ("project", "recorded", paid),
    ]:
        assert plan(event(object_type, action, after)) == [], (object_type, action)
    assert plan(event("payment", "recorded", {"amount_cents": 1})) == []  # no dossier named


def test_r_notif_1_references_and_due_keys() -> None:
    assert dossier_reference(PROJECT, "13") == "GUICHET-13-0B0E6A1E"
    programme = uuid.UUID(int=1)
    assert due_key(programme, "2A", None) == f"due:{programme}:2A:first"  # R-COM-1
    assert due_key(programme, "2A", "2021-06-30") == f"due:{programme}:2A:2021-06-30"
