"""R-AUDIT-1: the keyed hash chain of audit events, as pure functions.

Each event's `hash` is HMAC-SHA256, under the key named by its `key_id`, of a canonical
serialisation of every stored field of the event (its `id`, `seq`, `key_id` and the previous
event's hash included): JSON with sorted keys, no insignificant whitespace, UTF-8, integers and
strings only (a float has no single text, so none is ever hashed: `summarise` turns one into its
decimal text before it is stored). The keys live outside the database (GUICHET_AUDIT_KEYS), so
someone who can write the database alone cannot seal a forged or rewritten event. Whoever holds
the rows and the keys can recompute the chain with this module alone; `verify_chain` names the
first event that does not hold.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

GENESIS_HASH = "0" * 64
"""The `prev_hash` of the first event of a chain."""

JsonValue = None | bool | int | str | list["JsonValue"] | dict[str, "JsonValue"]


def summarise(value: Any) -> JsonValue:
    """A value as it is stored and hashed: JSON with integers and strings only.

    Dates and instants become ISO 8601 text (instants in UTC), UUIDs their text, enums their
    value, decimals and floats their decimal text; mappings and sequences recursively.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Enum):
        return summarise(value.value)
    if isinstance(value, datetime):
        return instant_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, float | Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): summarise(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [summarise(v) for v in value]
        return sorted(items, key=canonical_json) if isinstance(value, set | frozenset) else items
    raise TypeError(f"cannot summarise {type(value).__name__} for the audit trail")


def instant_text(value: datetime) -> str:
    """An aware instant as UTC ISO 8601 text with microseconds (one text per instant)."""
    if value.tzinfo is None:
        raise ValueError("audit instants are timezone-aware")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _refuse_floats(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("floats are not hashed (no canonical text): summarise them first")
    if isinstance(value, Mapping):
        for item in value.values():
            _refuse_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_floats(item)


def canonical_json(value: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, non-ASCII kept, floats refused."""
    _refuse_floats(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def changed_fields(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> tuple[dict[str, JsonValue] | None, dict[str, JsonValue] | None]:
    """The before/after summary of the fields that changed.

    A creation (no `before`) keeps every field of `after`; a deletion every field of `before`;
    otherwise only the keys whose summarised values differ, on both sides.
    """
    old = None if before is None else {k: summarise(v) for k, v in before.items()}
    new = None if after is None else {k: summarise(v) for k, v in after.items()}
    if old is None or new is None:
        return old, new
    keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    return {k: old.get(k) for k in keys}, {k: new.get(k) for k in keys}


@dataclass(frozen=True)
class Keyring:
    """R-AUDIT-1: the chain's HMAC keys by key id, and the id of the one that seals new events.

    Rotation: add a new key and make it current; keep the old ones as long as events sealed
    under them must verify (each event names its key)."""

    keys: Mapping[str, bytes]
    current: str

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise ValueError(f"the current audit key {self.current!r} is not in the keyring")


@dataclass(frozen=True)
class EventContent:
    """What an audit event's hash covers: every stored field but the hash itself."""

    seq: int
    id: uuid.UUID
    key_id: str
    at: datetime
    actor_subject: str
    actor_role: str
    actor_scope: str | None
    object_type: str
    object_id: str
    departement: str | None
    action: str
    before: JsonValue
    after: JsonValue
    prev_hash: str

    def canonical(self) -> str:
        return canonical_json(
            {
                "seq": self.seq,
                "id": str(self.id),
                "key_id": self.key_id,
                "at": instant_text(self.at),
                "actor": {
                    "subject": self.actor_subject,
                    "role": self.actor_role,
                    "scope": self.actor_scope,
                },
                "object": {
                    "type": self.object_type,
                    "id": self.object_id,
                    "departement": self.departement,
                },
                "action": self.action,
                "before": self.before,
                "after": self.after,
                "prev_hash": self.prev_hash,
            }
        )


def event_hash(content: EventContent, key: bytes) -> str:
    """R-AUDIT-1: HMAC-SHA256 (hex) of the canonical serialisation of the event."""
    return hmac.new(key, content.canonical().encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class StoredEvent:
    """An event as read back: its content and the hash stored with it."""

    content: EventContent
    hash: str


@dataclass(frozen=True)
class ChainBreak:
    """The first link that does not hold: which event, which part, expected vs found."""

    seq: int
    # "seq" (a gap or reordering), "prev_hash", "hash" (content altered), "key_id" (a key the
    # settings do not hold), "head" (events cut off the end, or rows past the head),
    # "checkpoint" (the chain no longer has the hash a signed checkpoint recorded)
    field: str
    expected: str
    found: str
    message: str


@dataclass(frozen=True)
class ChainCheck:
    """Where a verification stands after some events: the last good sequence and hash."""

    verified_up_to: int = 0
    last_hash: str = GENESIS_HASH
    checked: int = 0


def verify_chain(
    events: Iterable[StoredEvent], keyring: Keyring, start: ChainCheck | None = None
) -> tuple[ChainCheck, ChainBreak | None]:
    """R-AUDIT-1: walk events in sequence order from `start` (the genesis by default).

    Returns how far the chain holds and the first break, if any: a missing or repeated
    sequence number, a `prev_hash` that is not the previous event's hash, an event sealed under
    a key the keyring does not hold, or a stored hash that is not the HMAC of the event's
    content (the row was edited, or sealed without the key).
    """
    state = start or ChainCheck()
    for event in events:
        content = event.content
        expected_seq = state.verified_up_to + 1
        if content.seq != expected_seq:
            return state, ChainBreak(
                seq=content.seq,
                field="seq",
                expected=str(expected_seq),
                found=str(content.seq),
                message=f"Séquence {expected_seq} attendue, {content.seq} trouvée "
                "(événement supprimé ou inséré).",
            )
        if content.prev_hash != state.last_hash:
            return state, ChainBreak(
                seq=content.seq,
                field="prev_hash",
                expected=state.last_hash,
                found=content.prev_hash,
                message=f"L'événement {content.seq} ne cite pas le hachage de l'événement "
                "précédent.",
            )
        key = keyring.keys.get(content.key_id)
        if key is None:
            return state, ChainBreak(
                seq=content.seq,
                field="key_id",
                expected=", ".join(sorted(keyring.keys))[:200],
                found=content.key_id[:200],
                message=f"L'événement {content.seq} est scellé par une clé inconnue des "
                "paramètres (GUICHET_AUDIT_KEYS) : il ne peut pas être vérifié.",
            )
        recomputed = event_hash(content, key)
        if not hmac.compare_digest(recomputed, event.hash):
            return state, ChainBreak(
                seq=content.seq,
                field="hash",
                expected=recomputed,
                found=event.hash,
                message=f"Le contenu de l'événement {content.seq} ne correspond plus à son "
                "hachage (modifié après coup ou scellé sans la clé).",
            )
        state = ChainCheck(content.seq, event.hash, state.checked + 1)
    return state, None


def check_head(state: ChainCheck, head_seq: int, head_hash: str) -> ChainBreak | None:
    """The chain head must name the last event verified: else events were cut off the end."""
    if (head_seq, head_hash) == (state.verified_up_to, state.last_hash):
        return None
    return ChainBreak(
        seq=state.verified_up_to + 1 if head_seq > state.verified_up_to else head_seq,
        field="head",
        expected=f"{head_seq}:{head_hash}",
        found=f"{state.verified_up_to}:{state.last_hash}",
        message=f"La tête de chaîne annonce l'événement {head_seq}, la chaîne s'arrête à "
        f"{state.verified_up_to} (événements retirés en fin de chaîne).",
    )


def past_head(head_seq: int, first_seq_past: int) -> ChainBreak:
    """A row stored past the recorded head: never appended by the service (forged)."""
    return ChainBreak(
        seq=first_seq_past,
        field="head",
        expected=str(head_seq),
        found=str(first_seq_past),
        message=f"L'événement {first_seq_past} est au-delà de la tête de chaîne ({head_seq}) : "
        "il n'a pas été ajouté par le service (inséré dans la base).",
    )


def check_checkpoint(
    state: ChainCheck, checkpoint_seq: int, checkpoint_hash: str, stored_hash: str | None
) -> ChainBreak | None:
    """A signed checkpoint (seq, hash) kept by an auditor: the verified chain must still have
    that hash at that sequence (a rewrite before the checkpoint changes it)."""
    if checkpoint_seq == 0:
        return None
    if checkpoint_seq > state.verified_up_to or stored_hash is None:
        return ChainBreak(
            seq=checkpoint_seq,
            field="checkpoint",
            expected=f"{checkpoint_seq}:{checkpoint_hash}",
            found=f"{state.verified_up_to}:{state.last_hash}",
            message=f"Le point de contrôle atteste l'événement {checkpoint_seq}, la chaîne "
            f"vérifiée s'arrête à {state.verified_up_to}.",
        )
    if not hmac.compare_digest(stored_hash, checkpoint_hash):
        return ChainBreak(
            seq=checkpoint_seq,
            field="checkpoint",
            expected=checkpoint_hash,
            found=stored_hash,
            message=f"L'événement {checkpoint_seq} n'a plus le hachage attesté par le point de "
            "contrôle signé : la chaîne a été réécrite avant lui.",
        )
    return None
