"""R-HOOK-1: signatures, backoff, event types and the SSRF guard, as pure functions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from datetime import timedelta

import pytest

from app.webhooks.guard import TargetPolicy, check_addresses, check_url
from app.webhooks.rules import (
    RETRY_DELAYS,
    EventType,
    event_types_of,
    new_secret,
    next_delay,
    reaches,
    secret_key,
    sign,
    signature_header,
    verify_signature,
)


def test_secrets_are_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(secret_key(secret)) == 32
    assert new_secret() != secret
    with pytest.raises(ValueError):
        secret_key("not-a-secret")


def test_r_hook_1_signature_is_hmac_sha256_of_id_timestamp_body() -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    body = b'{"a":1}'
    expected = hmac.new(b"k" * 32, b"msg_1.1614556800." + body, hashlib.sha256).digest()
    assert sign(secret, "msg_1", 1614556800, body) == "v1," + base64.b64encode(expected).decode()


def test_r_hook_1_during_a_rotation_both_secrets_sign() -> None:
    old, new = new_secret(), new_secret()
    header = signature_header([new, old], "m", 1, b"x")
    assert len(header.split(" ")) == 2
    assert verify_signature(new, "m", 1, b"x", header)
    assert verify_signature(old, "m", 1, b"x", header)
    assert not verify_signature(new_secret(), "m", 1, b"x", header)
    assert not verify_signature(new, "m", 1, b"y", header)  # another body
    assert not verify_signature(new, "m", 2, b"x", header)  # another timestamp


def test_r_hook_1_backoff_spans_about_a_day_then_gives_up() -> None:
    total = sum(RETRY_DELAYS, timedelta())
    assert timedelta(hours=20) <= total <= timedelta(hours=36)
    assert list(RETRY_DELAYS) == sorted(RETRY_DELAYS)
    assert next_delay(len(RETRY_DELAYS) + 1) is None
    with pytest.raises(ValueError):
        next_delay(0)


@pytest.mark.parametrize("failures", range(1, len(RETRY_DELAYS) + 1))
def test_r_hook_1_backoff_jitter_stays_within_20_percent(failures: int) -> None:
    rng = random.Random(failures)
    base = RETRY_DELAYS[failures - 1]
    delays = [next_delay(failures, rng) for _ in range(50)]
    assert all(d is not None and base * 0.8 <= d <= base * 1.2 for d in delays)
    assert len(set(delays)) > 1  # jittered


@pytest.mark.parametrize(
    ("object_type", "action", "after", "expected"),
    [
        ("project", "status_changed", {"transition": "submit"}, ["project.status_changed"]),
        (
            "project",
            "status_changed",
            {"transition": "accept"},
            ["project.status_changed", "decision.recorded"],
        ),
        (
            "project",
            "status_changed",
            {"transition": "reject"},
            ["project.status_changed", "decision.recorded"],
        ),
        ("grant", "committed", {}, ["grant.committed"]),
        ("payment", "recorded", {}, ["payment.recorded"]),
        ("committee", "closed", None, ["committee.closed"]),
        ("decision", "recorded", None, []),  # decisions are project transitions
        ("envelope", "commitment", {}, []),
        ("project", "updated", {}, []),
    ],
)
def test_event_types_of_audit_events(
    object_type: str, action: str, after: dict[str, str] | None, expected: list[str]
) -> None:
    assert [t.value for t in event_types_of(object_type, action, after)] == expected
    assert all(isinstance(t, EventType) for t in event_types_of(object_type, action, after))


@pytest.mark.parametrize(
    ("subscriber", "event", "expected"),
    [
        (None, "13", True),
        (None, None, True),
        ("13", "13", True),
        ("13", "75", False),
        ("13", None, False),
    ],
)
def test_r_hook_1_a_prefect_subscription_reaches_its_departement_only(
    subscriber: str | None, event: str | None, expected: bool
) -> None:
    assert reaches(subscriber, event) is expected


PRODUCTION = TargetPolicy()
DEVELOPMENT = TargetPolicy(allow_loopback=True, allowed_ports=(8000,))


@pytest.mark.parametrize(
    ("url", "policy", "refused"),
    [
        ("https://hooks.example.org/x", PRODUCTION, False),
        ("http://hooks.example.org/x", PRODUCTION, True),
        ("http://127.0.0.1:8000/x", DEVELOPMENT, False),
        ("http://127.0.0.1:8000/x", TargetPolicy(allow_loopback=True), True),  # port not allowed
        ("ftp://hooks.example.org/x", DEVELOPMENT, True),
        ("https://u:p@hooks.example.org/x", PRODUCTION, True),
        ("https:///x", PRODUCTION, True),
        ("https://hooks.example.org:99999/x", PRODUCTION, True),
        ("https://other.example.org/x", TargetPolicy(allowed_hosts=("hooks.example.org",)), True),
        ("https://HOOKS.example.org/x", TargetPolicy(allowed_hosts=("hooks.example.org",)), False),
    ],
)
def test_r_hook_1_target_urls(url: str, policy: TargetPolicy, refused: bool) -> None:
    assert (check_url(url, policy) is not None) is refused


@pytest.mark.parametrize(
    ("addresses", "policy", "refused"),
    [
        (["93.184.216.34"], PRODUCTION, False),
        (["2606:2800:220:1:248:1893:25c8:1946"], PRODUCTION, False),
        (["127.0.0.1"], PRODUCTION, True),
        (["127.0.0.1"], DEVELOPMENT, False),
        (["::1"], PRODUCTION, True),
        (["10.0.0.5"], DEVELOPMENT, True),
        (["192.168.1.1"], PRODUCTION, True),
        (["172.16.0.1"], PRODUCTION, True),
        (["169.254.169.254"], PRODUCTION, True),  # cloud metadata
        (["100.64.0.1"], PRODUCTION, True),  # carrier-grade NAT
        (["0.0.0.0"], PRODUCTION, True),
        (["::ffff:10.0.0.1"], PRODUCTION, True),  # IPv4-mapped private
        (["fd00::1"], PRODUCTION, True),
        (["fe80::1%eth0"], PRODUCTION, True),
        (["224.0.0.1"], PRODUCTION, True),
        (["93.184.216.34", "10.0.0.1"], PRODUCTION, True),  # one private answer is enough
        ([], PRODUCTION, True),
    ],
)
def test_r_hook_1_ssrf_guard_on_resolved_addresses(
    addresses: list[str], policy: TargetPolicy, refused: bool
) -> None:
    assert (check_addresses(addresses, policy) is not None) is refused
