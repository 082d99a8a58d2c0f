"""R-AUDIT-1 (issue 23, point 4): the keyed chain and its signed checkpoints, through the API.

Someone who can write the database: a well-formed row past the head is a break and never
served; a chain rewritten with recomputed unkeyed hashes, or an event whose id changed, fails
its HMAC; key rotation keeps old events verifiable as long as their key is configured; and a
rewrite before a signed checkpoint (even by someone who also holds the HMAC key) is caught by
the checkpoint an auditor kept.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import delete, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.audit import checkpoints, service as audit_service
from app.audit.models import AuditChainHead, AuditEvent
from app.audit.rules import GENESIS_HASH, EventContent, Keyring, event_hash
from app.core.security import encode_access_token
from tests.api.audit.test_audit_events import AUDIT, VERIFY, _three_events, events, verify
from tests.api.budgets.driver import Money
from tests.conftest import Actors

CHECKPOINTS = f"{AUDIT}/checkpoints"
LATEST = f"{CHECKPOINTS}/latest"
K1 = b"k1-0123456789abcdef0123456789abcdef"
K2 = b"k2-0123456789abcdef0123456789abcdef"


@pytest.fixture
def money(client: AsyncClient, session: AsyncSession, headers, actors: Actors) -> Money:  # type: ignore[no-untyped-def]
    return Money(client, session, headers, actors)


def _content(row: AuditEvent, **changes: Any) -> EventContent:
    values = {
        name: getattr(row, name)
        for name in (
            "seq id key_id at actor_subject actor_role actor_scope object_type object_id "
            "departement action before after prev_hash"
        ).split()
    }
    return EventContent(**{**values, **changes})


async def _rows(session: AsyncSession) -> list[AuditEvent]:
    result = await session.execute(select(AuditEvent).order_by(col(AuditEvent.seq)))
    rows = list(result.scalars().all())
    session.expunge_all()
    return rows


async def _rewrite_from(session: AsyncSession, seq: int, seal: Any, **changes: Any) -> None:
    """Rewrite the event `seq` with `changes` and every later link with `seal(content)`, and
    move the head: a consistent chain for whoever checks it with `seal`'s rule."""
    rows = await _rows(session)
    prev = GENESIS_HASH
    for row in rows:
        if row.seq < seq:
            prev = row.hash
            continue
        content = _content(row, prev_hash=prev, **(changes if row.seq == seq else {}))
        prev = seal(content)
        await session.execute(
            update(AuditEvent)
            .where(col(AuditEvent.seq) == row.seq)
            .values(
                prev_hash=content.prev_hash,
                hash=prev,
                **{k: v for k, v in changes.items() if row.seq == seq},
            )
        )
    await session.execute(update(AuditChainHead).values(last_hash=prev))
    await session.commit()


async def _forge_past_head(
    session: AsyncSession, last: dict[str, Any], **overrides: Any
) -> EventContent:
    """A well-formed row after the head (seq = head + 1, right prev_hash, hash sealed even with
    the HMAC key), the head left as it was: 9 999 999,99 € allocated."""
    keyring = audit_service.current_keyring()
    values: dict[str, Any] = {
        "seq": last["seq"] + 1,
        "id": uuid.uuid4(),
        "key_id": keyring.current,
        "at": (await _rows(session))[-1].at,
        "actor_subject": "agent-dinum",
        "actor_role": "dinum",
        "actor_scope": None,
        "object_type": "envelope",
        "object_id": last["object"]["id"],
        "departement": "13",
        "action": "allocation",
        "before": {"allocated_cents": 0},
        "after": {"allocated_cents": 999_999_999},
        "prev_hash": last["hash"],
        **overrides,
    }
    forged = EventContent(**values)
    sealed = event_hash(forged, keyring.keys[keyring.current])
    await session.execute(insert(AuditEvent).values({**values, "hash": sealed}))
    await session.commit()
    return forged


async def test_r_audit_1_a_well_formed_row_past_the_head_is_a_break_and_not_served(
    money: Money, client: AsyncClient, headers: Any, actors: Actors, session: AsyncSession
) -> None:
    *_, last = await _three_events(money, client, headers, actors)
    forged = await _forge_past_head(session, last)
    report = await verify(client, headers, actors)
    assert report["valid"] is False
    assert report["head_seq"] == report["verified_up_to"] == last["seq"]
    assert (report["broken"]["seq"], report["broken"]["field"]) == (forged.seq, "head")
    served = await events(client, headers, actors.dinum, after=last["seq"] - 1)
    assert [e["seq"] for e in served] == [last["seq"]]
    served13 = await events(client, headers, actors.pref13)
    assert forged.seq not in [e["seq"] for e in served13]


async def test_r_audit_1_a_row_past_the_head_is_never_replayed_to_webhooks(
    money: Money, client: AsyncClient, headers: Any, actors: Actors, session: AsyncSession
) -> None:
    first, *_ = await _three_events(money, client, headers, actors)
    subscribed = await client.post(
        "/api/v1/webhooks",
        json={"url": "https://93.184.216.34/guichet", "event_types": ["grant.committed"]},
        headers=headers(actors.dinum),
    )
    assert subscribed.status_code == 201, subscribed.text
    last = (await events(client, headers, actors.dinum))[-1]  # the subscription's own event
    await _forge_past_head(session, last, object_type="grant", action="committed")
    replayed = await client.post(
        f"/api/v1/webhooks/{subscribed.json()['id']}/replay",
        params={"after": first["id"]},
        headers=headers(actors.dinum),
    )
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["queued"] == 0


async def test_r_audit_1_a_chain_rewritten_with_unkeyed_hashes_is_detected(
    money: Money, client: AsyncClient, headers: Any, actors: Actors, session: AsyncSession
) -> None:
    first, middle, _last = await _three_events(money, client, headers, actors)
    # Without the key: rewrite 5 M€ into 50 M€ and every later link with SHA-256, head moved.
    await _rewrite_from(
        session,
        middle["seq"],
        lambda c: hashlib.sha256(c.canonical().encode()).hexdigest(),
        after={"allocated_cents": 50_000_000},
    )
    report = await verify(client, headers, actors)
    assert report["valid"] is False
    assert report["verified_up_to"] == first["seq"]
    assert (report["broken"]["seq"], report["broken"]["field"]) == (middle["seq"], "hash")


async def test_r_audit_1_a_changed_event_id_is_detected(
    money: Money, client: AsyncClient, headers: Any, actors: Actors, session: AsyncSession
) -> None:
    _first, middle, _last = await _three_events(money, client, headers, actors)
    await session.execute(
        update(AuditEvent).where(col(AuditEvent.seq) == middle["seq"]).values(id=uuid.uuid4())
    )
    await session.commit()
    broken = (await verify(client, headers, actors))["broken"]
    assert (broken["seq"], broken["field"]) == (middle["seq"], "hash")


async def test_r_audit_1_key_rotation_each_event_verifies_with_its_own_key(
    money: Money,
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(audit_service, "_keyring", Keyring({"k1": K1}, "k1"))
    assert (await money.allocate("13", 10_000_000)).status_code == 201
    monkeypatch.setattr(audit_service, "_keyring", Keyring({"k1": K1, "k2": K2}, "k2"))
    assert (await money.allocate("13", 100, kind="top_up")).status_code == 201
    found = await events(client, headers, actors.dinum)
    assert [e["key_id"] for e in found] == ["k1", "k1", "k2"]
    report = await verify(client, headers, actors)
    assert report["valid"] is True and report["verified_up_to"] == found[-1]["seq"]

    monkeypatch.setattr(audit_service, "_keyring", Keyring({"k2": K2}, "k2"))  # k1 removed
    report = await verify(client, headers, actors)
    assert report["valid"] is False
    broken = report["broken"]
    assert (broken["seq"], broken["field"], broken["found"]) == (found[0]["seq"], "key_id", "k1")
    assert "GUICHET_AUDIT_KEYS" in broken["message"]


# -- checkpoints -----------------------------------------------------------------------------


async def test_r_audit_1_a_checkpoint_verifies_and_a_rewrite_before_it_fails(
    money: Money, client: AsyncClient, headers: Any, actors: Actors, session: AsyncSession
) -> None:
    first, middle, last = await _three_events(money, client, headers, actors)
    created = await client.post(CHECKPOINTS, headers=headers(actors.dinum))
    assert created.status_code == 201, created.text
    checkpoint = created.json()
    assert (checkpoint["head_seq"], checkpoint["head_hash"]) == (last["seq"], last["hash"])
    assert checkpoint["key_id"] == last["key_id"]
    assert checkpoint["anchored"] is False  # the suite has no service key: HS256
    latest = await client.get(LATEST, headers=headers(actors.pref13))
    assert latest.status_code == 200
    assert latest.json() == checkpoint
    held = await client.get(
        VERIFY, params={"checkpoint": checkpoint["jws"]}, headers=headers(actors.dinum)
    )
    assert held.status_code == 200, held.text
    assert held.json()["valid"] is True
    assert held.json()["checkpoint"]["head_seq"] == last["seq"]

    # An insider who also holds the HMAC key rewrites the chain consistently before the
    # checkpoint: the chain alone verifies, the kept checkpoint does not.
    keyring = audit_service.current_keyring()
    await _rewrite_from(
        session,
        middle["seq"],
        lambda c: event_hash(c, keyring.keys[c.key_id]),
        after={"allocated_cents": 50_000_000},
    )
    assert (await verify(client, headers, actors))["valid"] is True
    report = await client.get(
        VERIFY, params={"checkpoint": checkpoint["jws"]}, headers=headers(actors.dinum)
    )
    assert report.status_code == 200
    body = report.json()
    assert body["valid"] is False
    assert (body["broken"]["seq"], body["broken"]["field"]) == (last["seq"], "checkpoint")
    assert body["broken"]["expected"] == last["hash"]


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jws",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.eyJoZWFkX3NlcSI6MX0.",
    ],
)
async def test_r_audit_1_something_else_than_a_checkpoint_is_refused(
    client: AsyncClient, headers: Any, actors: Actors, token: str
) -> None:
    response = await client.get(VERIFY, params={"checkpoint": token}, headers=headers(actors.dinum))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_r_audit_1_an_access_token_is_no_checkpoint(
    client: AsyncClient, headers: Any, actors: Actors, settings: Any
) -> None:
    token = encode_access_token(
        settings, sub="x", role="dinum", extra={"head_seq": 0, "head_hash": "0" * 64}
    )
    response = await client.get(VERIFY, params={"checkpoint": token}, headers=headers(actors.dinum))
    assert response.status_code == 422
    assert response.json()["code"] == "R-AUDIT-1"


async def test_r_audit_1_latest_checkpoint_is_404_before_any(
    client: AsyncClient, headers: Any, actors: Actors
) -> None:
    assert (await client.get(LATEST, headers=headers(actors.dinum))).status_code == 404


@pytest.mark.parametrize(("who", "status"), [("pref13", 403), ("cand_a", 403), (None, 401)])
async def test_r_audit_1_only_dinum_publishes_a_checkpoint(
    client: AsyncClient, headers: Any, actors: Actors, who: str | None, status: int
) -> None:
    auth = headers(getattr(actors, who)) if who else {}
    assert (await client.post(CHECKPOINTS, headers=auth)).status_code == status


@pytest.mark.parametrize(("who", "status"), [("cand_a", 403), ("anct", 403), (None, 401)])
async def test_r_audit_1_dinum_and_prefects_read_the_latest_checkpoint(
    client: AsyncClient, headers: Any, actors: Actors, who: str | None, status: int
) -> None:
    assert (await client.post(CHECKPOINTS, headers=headers(actors.dinum))).status_code == 201
    auth = headers(getattr(actors, who)) if who else {}
    assert (await client.get(LATEST, headers=auth)).status_code == status


async def test_r_audit_1_the_periodic_checkpoint_follows_the_head(
    money: Money, session: AsyncSession, settings: Any
) -> None:
    assert (await money.allocate("13", 1_000)).status_code == 201
    first = await checkpoints.publish_if_moved(session, settings, None)
    assert first is not None and first.head_seq == 2
    assert await checkpoints.publish_if_moved(session, settings, None) is None  # head still
    assert (await money.allocate("13", 10, kind="top_up")).status_code == 201
    moved = await checkpoints.publish_if_moved(session, settings, None)
    assert moved is not None and moved.head_seq == 3
    assert checkpoints.verify(settings, None, moved.jws).head_hash == moved.head_hash


async def test_r_audit_1_a_tail_cut_behind_a_checkpoint_fails_it(
    money: Money, client: AsyncClient, headers: Any, actors: Actors, session: AsyncSession
) -> None:
    _first, middle, last = await _three_events(money, client, headers, actors)
    kept = (await client.post(CHECKPOINTS, headers=headers(actors.dinum))).json()["jws"]
    # The last event deleted and the head moved back onto the one before: a chain that holds.
    await session.execute(delete(AuditEvent).where(col(AuditEvent.seq) == last["seq"]))
    await session.execute(
        update(AuditChainHead).values(last_seq=middle["seq"], last_hash=middle["hash"])
    )
    await session.commit()
    assert (await verify(client, headers, actors))["valid"] is True
    report = await client.get(VERIFY, params={"checkpoint": kept}, headers=headers(actors.dinum))
    body = report.json()
    assert body["valid"] is False
    assert (body["broken"]["seq"], body["broken"]["field"]) == (last["seq"], "checkpoint")
