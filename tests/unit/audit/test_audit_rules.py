"""R-AUDIT-1: the hash chain's pure functions (canonical serialisation, hashes, verification)."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum

import pytest

from app.audit.rules import (
    GENESIS_HASH,
    ChainCheck,
    EventContent,
    Keyring,
    StoredEvent,
    canonical_json,
    changed_fields,
    check_checkpoint,
    check_head,
    event_hash,
    instant_text,
    summarise,
    verify_chain,
)

AT = datetime(2021, 3, 1, 9, 30, tzinfo=UTC)
K1, K2 = b"k1-secret-0123456789abcdef0123456789", b"k2-secret-0123456789abcdef0123456789"
KEYRING = Keyring({"k1": K1}, "k1")


class Colour(Enum):
    RED = "red"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, True),
        (12, 12),
        ("é", "é"),
        (Colour.RED, "red"),
        (date(2021, 3, 1), "2021-03-01"),
        (AT, "2021-03-01T09:30:00.000000+00:00"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (1.5, "1.5"),
        (Decimal("0.10"), "0.10"),
        ({"a": (1, 2)}, {"a": [1, 2]}),
        ({3, 1}, [1, 3]),
    ],
)
def test_summarise_keeps_integers_and_strings_only(value: object, expected: object) -> None:
    assert summarise(value) == expected


def test_summarise_refuses_what_it_cannot_write() -> None:
    with pytest.raises(TypeError):
        summarise(object())


def test_instants_have_one_text_whatever_their_offset() -> None:
    paris = AT.astimezone(timezone(timedelta(hours=1)))
    assert instant_text(paris) == instant_text(AT) == "2021-03-01T09:30:00.000000+00:00"
    with pytest.raises(ValueError):
        instant_text(datetime(2021, 3, 1))  # noqa: DTZ001 (the naive instant is the point)


def test_canonical_json_sorts_keys_drops_spaces_and_keeps_utf8() -> None:
    assert canonical_json({"b": 1, "a": {"d": "é", "c": None}}) == '{"a":{"c":null,"d":"é"},"b":1}'


@pytest.mark.parametrize("value", [1.0, {"a": 0.5}, [1, [2.5]]])
def test_canonical_json_refuses_floats(value: object) -> None:
    with pytest.raises(TypeError):
        canonical_json(value)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (None, {"a": 1}, (None, {"a": 1})),
        ({"a": 1}, None, ({"a": 1}, None)),
        ({"a": 1, "b": 2}, {"a": 1, "b": 3}, ({"b": 2}, {"b": 3})),
        ({"a": 1}, {"a": 1, "c": "x"}, ({"c": None}, {"c": "x"})),
        ({"a": 1}, {"a": 1}, ({}, {})),
        ({"d": date(2021, 1, 1)}, {"d": "2021-01-01"}, ({}, {})),  # compared as stored
    ],
)
def test_changed_fields_keeps_only_what_changed(
    before: dict[str, object] | None,
    after: dict[str, object] | None,
    expected: tuple[object, object],
) -> None:
    assert changed_fields(before, after) == expected


def content(seq: int, prev_hash: str, **overrides: object) -> EventContent:
    values: dict[str, object] = {
        "seq": seq,
        "id": uuid.UUID(int=seq),
        "key_id": "k1",
        "at": AT + timedelta(seconds=seq),
        "actor_subject": "agent-dinum",
        "actor_role": "dinum",
        "actor_scope": None,
        "object_type": "envelope",
        "object_id": "e1",
        "departement": "13",
        "action": "allocation",
        "before": {"allocated_cents": 0},
        "after": {"allocated_cents": seq * 100},
        "prev_hash": prev_hash,
    }
    values.update(overrides)
    return EventContent(**values)  # type: ignore[arg-type]


def chain(length: int) -> list[StoredEvent]:
    events, prev = [], GENESIS_HASH
    for seq in range(1, length + 1):
        item = content(seq, prev)
        prev = event_hash(item, K1)
        events.append(StoredEvent(item, prev))
    return events


def test_r_audit_1_the_hash_is_hmac_sha256_of_the_canonical_text() -> None:
    item = content(1, GENESIS_HASH)
    expected = hmac.new(K1, item.canonical().encode(), hashlib.sha256).hexdigest()
    assert event_hash(item, K1) == expected
    assert event_hash(item, K2) != expected
    assert '"prev_hash":"' + GENESIS_HASH in item.canonical()
    assert '"id":"00000000-0000-0000-0000-000000000001"' in item.canonical()
    assert '"key_id":"k1"' in item.canonical()


@pytest.mark.parametrize(
    "field",
    [
        "seq",
        "id",
        "key_id",
        "at",
        "actor_subject",
        "actor_role",
        "actor_scope",
        "object_type",
        "object_id",
        "departement",
        "action",
        "before",
        "after",
        "prev_hash",
    ],
)
def test_r_audit_1_every_field_is_covered_by_the_hash(field: str) -> None:
    item = content(2, "a" * 64)
    changed = {
        "seq": 3,
        "at": AT,
        "before": {"allocated_cents": 1},
        "after": None,
        "prev_hash": "b" * 64,
        "actor_scope": "13",
        "id": uuid.UUID(int=99),
    }.get(field, "other")
    altered = dataclasses.replace(item, **{field: changed})  # type: ignore[arg-type]
    assert event_hash(altered, K1) != event_hash(item, K1)


def test_r_audit_1_an_intact_chain_holds_to_its_end() -> None:
    events = chain(5)
    state, broken = verify_chain(events, KEYRING)
    assert broken is None
    assert state == ChainCheck(5, events[-1].hash, 5)
    assert check_head(state, 5, events[-1].hash) is None


def test_r_audit_1_verification_resumes_from_a_checkpoint() -> None:
    events = chain(6)
    middle, _ = verify_chain(events[:3], KEYRING)
    state, broken = verify_chain(events[3:], KEYRING, middle)
    assert broken is None and state.verified_up_to == 6 and state.checked == 6


def test_r_audit_1_an_edited_event_is_named() -> None:
    events = chain(4)
    forged = dataclasses.replace(events[2].content, after={"allocated_cents": 1})
    events[2] = StoredEvent(forged, events[2].hash)
    state, broken = verify_chain(events, KEYRING)
    assert broken is not None
    assert (broken.seq, broken.field, broken.found) == (3, "hash", events[2].hash)
    assert state.verified_up_to == 2


def test_r_audit_1_a_rehashed_forgery_breaks_the_next_link() -> None:
    events = chain(4)
    forged = dataclasses.replace(events[1].content, after={"allocated_cents": 1})
    events[1] = StoredEvent(forged, event_hash(forged, K1))
    _state, broken = verify_chain(events, KEYRING)
    assert broken is not None
    assert (broken.seq, broken.field) == (3, "prev_hash")
    assert broken.found != broken.expected


def test_r_audit_1_a_missing_event_is_a_gap() -> None:
    events = chain(4)
    del events[1]
    _state, broken = verify_chain(events, KEYRING)
    assert broken is not None
    assert (broken.seq, broken.field, broken.expected) == (3, "seq", "2")


def test_r_audit_1_a_cut_tail_is_named_by_the_head() -> None:
    events = chain(4)
    state, broken = verify_chain(events[:2], KEYRING)
    assert broken is None
    cut = check_head(state, 4, events[-1].hash)
    assert cut is not None
    assert (cut.seq, cut.field) == (3, "head")


def test_r_audit_1_a_chain_rewritten_with_unkeyed_hashes_is_named() -> None:
    events = chain(4)
    # A forger without the key rewrites from the 2nd event on, recomputing SHA-256 hashes.
    prev = events[0].hash
    for index in range(1, 4):
        item = dataclasses.replace(events[index].content, prev_hash=prev, action="forged")
        prev = hashlib.sha256(item.canonical().encode()).hexdigest()
        events[index] = StoredEvent(item, prev)
    state, broken = verify_chain(events, KEYRING)
    assert broken is not None
    assert (broken.seq, broken.field, state.verified_up_to) == (2, "hash", 1)


def test_r_audit_1_rotation_verifies_each_event_with_its_own_key() -> None:
    first = content(1, GENESIS_HASH)
    first_hash = event_hash(first, K1)
    second = content(2, first_hash, key_id="k2")
    events = [StoredEvent(first, first_hash), StoredEvent(second, event_hash(second, K2))]
    state, broken = verify_chain(events, Keyring({"k1": K1, "k2": K2}, "k2"))
    assert broken is None and state.verified_up_to == 2
    state, broken = verify_chain(events, Keyring({"k2": K2}, "k2"))  # k1 removed
    assert broken is not None
    assert (broken.seq, broken.field, broken.found, broken.expected) == (1, "key_id", "k1", "k2")


def test_r_audit_1_a_keyring_names_its_current_key() -> None:
    with pytest.raises(ValueError):
        Keyring({"k1": K1}, "k2")


def test_r_audit_1_a_checkpoint_must_still_be_in_the_chain() -> None:
    events = chain(4)
    state, _ = verify_chain(events, KEYRING)
    assert check_checkpoint(state, 2, events[1].hash, events[1].hash) is None
    assert check_checkpoint(state, 0, GENESIS_HASH, None) is None
    rewritten = check_checkpoint(state, 2, "a" * 64, events[1].hash)
    assert rewritten is not None and (rewritten.seq, rewritten.field) == (2, "checkpoint")
    beyond = check_checkpoint(state, 6, "a" * 64, None)
    assert beyond is not None and beyond.field == "checkpoint"
