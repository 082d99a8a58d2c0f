"""R-HOOK-1: signatures, retry schedule and event types, as pure functions (the SSRF guard:
`app.webhooks.guard`).

Signatures follow the Standard Webhooks convention (standardwebhooks.com): the secret is
`whsec_` + base64 of random bytes; the signed content is `{webhook-id}.{webhook-timestamp}.{body}`;
`webhook-signature` carries `v1,<base64 HMAC-SHA256>`, several space-separated while a rotated
secret is still in its grace period.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import secrets
from collections.abc import Mapping, Sequence
from datetime import timedelta
from enum import StrEnum
from typing import Any

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


class EventType(StrEnum):
    PROJECT_STATUS_CHANGED = "project.status_changed"
    DECISION_RECORDED = "decision.recorded"
    GRANT_COMMITTED = "grant.committed"
    PAYMENT_RECORDED = "payment.recorded"
    COMMITTEE_CLOSED = "committee.closed"


# Audit (object type, action) → webhook event types. A decision on a dossier is its transition
# to accepted or rejected (recorded by projects.transitions.advance, whoever drives it: a committee
# included), so it is never recorded twice; the committees domain records
# ("committee", "closed") when a committee closes.
DECISION_TRANSITIONS = frozenset({"accept", "reject"})


def event_types_of(
    object_type: str, action: str, after: Mapping[str, Any] | None
) -> list[EventType]:
    """The webhook event types an audit event stands for (none for most of them)."""
    if object_type == "project" and action == "status_changed":
        found = [EventType.PROJECT_STATUS_CHANGED]
        if after is not None and after.get("transition") in DECISION_TRANSITIONS:
            found.append(EventType.DECISION_RECORDED)
        return found
    table = {
        ("grant", "committed"): EventType.GRANT_COMMITTED,
        ("payment", "recorded"): EventType.PAYMENT_RECORDED,
        ("committee", "closed"): EventType.COMMITTEE_CLOSED,
    }
    found_one = table.get((object_type, action))
    return [] if found_one is None else [found_one]


def reaches(subscriber_departement: str | None, event_departement: str | None) -> bool:
    """R-HOOK-1: a prefect's subscription receives its département's events only; a DINUM
    subscription (no département) receives every event."""
    return subscriber_departement is None or subscriber_departement == event_departement


# -- secrets and signatures -----------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key: the secret's base64 part, decoded."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of `id.timestamp.body`."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(
    secrets_in_force: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> str:
    """`webhook-signature`: one signature per secret in force (the new one first)."""
    return " ".join(sign(s, message_id, timestamp, body) for s in secrets_in_force)


def verify_signature(
    secret: str, message_id: str, timestamp: int, body: bytes, header: str
) -> bool:
    """What a receiver does (used by the tests): any `v1` signature of the header matches."""
    expected = sign(secret, message_id, timestamp, body)
    return any(hmac.compare_digest(expected, part) for part in header.split(" "))


# -- retries --------------------------------------------------------------------------------

# After the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about 27 h in all, the
# schedule Standard Webhooks' reference implementation uses); then the subscription is disabled.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
JITTER = 0.2


def next_delay(failed_attempts: int, rng: random.Random | None = None) -> timedelta | None:
    """The wait before the next attempt after `failed_attempts` failures (±20 % jitter), or
    None when the schedule is exhausted (give up and disable the subscription)."""
    if failed_attempts < 1:
        raise ValueError("at least one attempt failed")
    if failed_attempts > len(RETRY_DELAYS):
        return None
    base = RETRY_DELAYS[failed_attempts - 1]
    factor = 1 + (rng or random).uniform(-JITTER, JITTER)
    return base * factor


def is_success(status_code: int) -> bool:
    return 200 <= status_code < 300
