"""audit chain keyed and checkpoints (R-AUDIT-1, issue 23)

Each audit event gets `key_id`, the id of the HMAC-SHA256 key (GUICHET_AUDIT_KEYS, outside the
database) that sealed it, and its hash now covers every stored field (its `id` and `key_id`
too). `audit_checkpoint` keeps the signed checkpoints of the chain head.

Existing events are re-sealed here, under the current key of the settings this migration runs
with (GUICHET_AUDIT_KEYS / GUICHET_AUDIT_KEY_ID, as the service will run): the old unkeyed
chain is first verified event by event under its own rule (SHA-256 of the canonical JSON
without `id`), up to the head and not past it, and the migration stops, changing nothing, if it
does not hold: a chain already tampered with is never laundered into a keyed one. The canonical
serialisation is written out here (not imported) so that this migration keeps its meaning if
the application's rules change. Downgrade re-hashes the chain under the old unkeyed rule.

Revision ID: a7c3e91f42b8
Revises: d206b542dfb0
Create Date: 2026-12-05 11:40:00.000000+00:00
"""

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.core.types

revision: str = "a7c3e91f42b8"
down_revision: str | None = "d206b542dfb0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
BATCH = 1000

events = sa.table(
    "audit_event",
    sa.column("seq", sa.BigInteger()),
    sa.column("id", sa.Uuid()),
    sa.column("at", app.core.types.UTCDateTime(timezone=True)),
    sa.column("actor_subject", sa.String()),
    sa.column("actor_role", sa.String()),
    sa.column("actor_scope", sa.String()),
    sa.column("object_type", sa.String()),
    sa.column("object_id", sa.String()),
    sa.column("departement", sa.String()),
    sa.column("action", sa.String()),
    sa.column("before", sa.JSON()),
    sa.column("after", sa.JSON()),
    sa.column("prev_hash", sa.String()),
    sa.column("key_id", sa.String()),
    sa.column("hash", sa.String()),
)
head = sa.table(
    "audit_chain_head",
    sa.column("id", sa.Integer()),
    sa.column("last_seq", sa.BigInteger()),
    sa.column("last_hash", sa.String()),
)


def _canonical(row: Any, prev_hash: str, key_id: str | None) -> bytes:
    """The event's canonical JSON: the unkeyed rule without `id`/`key_id`, the keyed with."""
    at: datetime = row.at
    document: dict[str, Any] = {
        "seq": row.seq,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": {"subject": row.actor_subject, "role": row.actor_role, "scope": row.actor_scope},
        "object": {"type": row.object_type, "id": row.object_id, "departement": row.departement},
        "action": row.action,
        "before": row.before,
        "after": row.after,
        "prev_hash": prev_hash,
    }
    if key_id is not None:
        document["id"] = str(row.id)
        document["key_id"] = key_id
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def _rows(connection: sa.Connection) -> Any:
    after = 0
    while True:
        batch = connection.execute(
            sa.select(*(c for c in events.c if c.name != "key_id"))  # absent before upgrade
            .where(events.c.seq > after)
            .order_by(events.c.seq)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        yield from batch
        after = batch[-1].seq


def _head(connection: sa.Connection) -> tuple[int, str]:
    found = connection.execute(sa.select(head.c.last_seq, head.c.last_hash)).first()
    return (0, GENESIS) if found is None else (int(found.last_seq), str(found.last_hash))


def _plan_reseal(connection: sa.Connection) -> tuple[list[dict[str, Any]], str]:
    """The re-sealed links of the whole chain, after checking it under the old rule (read
    only: a refusal happens before any change of the schema)."""
    from app.core.config import get_settings  # the deployment's keys, as the service reads them

    settings = get_settings()
    key_id = settings.current_audit_key_id
    key = settings.audit_keys[key_id].get_secret_value().encode("utf-8")
    head_seq, head_hash = _head(connection)
    old_prev, new_prev, expected = GENESIS, GENESIS, 1
    updates = []
    for row in _rows(connection):
        old_hash = hashlib.sha256(_canonical(row, old_prev, None)).hexdigest()
        if row.seq != expected or row.seq > head_seq or row.prev_hash != old_prev:
            raise RuntimeError(
                f"audit chain broken at seq {row.seq} (gap, link, or past the head {head_seq}):"
                " not re-sealed; investigate with GET /api/v1/audit-events/verify first"
            )
        if row.hash != old_hash:
            raise RuntimeError(
                f"audit chain broken at seq {row.seq} (content altered): not re-sealed; "
                "investigate with GET /api/v1/audit-events/verify first"
            )
        new_hash = hmac.new(key, _canonical(row, new_prev, key_id), hashlib.sha256).hexdigest()
        updates.append({"s": row.seq, "k": key_id, "p": new_prev, "h": new_hash})
        old_prev, new_prev, expected = old_hash, new_hash, expected + 1
    if (expected - 1, old_prev) != (head_seq, head_hash):
        raise RuntimeError(
            f"audit chain head names {head_seq}, the chain ends at {expected - 1}: not re-sealed"
        )
    return updates, new_prev


def _write(connection: sa.Connection, updates: list[dict[str, Any]], last_hash: str) -> None:
    """Store the new links (and key ids, when `updates` carry them) and the head's hash."""
    if updates:
        values = {"prev_hash": sa.bindparam("p"), "hash": sa.bindparam("h")}
        if "k" in updates[0]:
            values["key_id"] = sa.bindparam("k")
        connection.execute(
            events.update().where(events.c.seq == sa.bindparam("s")).values(values), updates
        )
    connection.execute(head.update().values(last_hash=last_hash))


def upgrade() -> None:
    updates, last_hash = _plan_reseal(op.get_bind())
    op.create_table(
        "audit_checkpoint",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("head_seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True)
        )
    _write(op.get_bind(), updates, last_hash)
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.alter_column(
            "key_id", existing_type=sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False
        )


def downgrade() -> None:
    connection = op.get_bind()
    prev, updates = GENESIS, []
    for row in _rows(connection):
        new_hash = hashlib.sha256(_canonical(row, prev, None)).hexdigest()
        updates.append({"s": row.seq, "p": prev, "h": new_hash})
        prev = new_hash
    _write(connection, updates, prev)
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_column("key_id")
    op.drop_table("audit_checkpoint")
