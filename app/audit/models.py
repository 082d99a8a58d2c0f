"""Audit events (R-AUDIT-1) and the chain head, the one row every append locks."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, Index, Integer, Text
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    """One change, as it was committed: `seq` is gap-free and in commit order.

    Append-only: written only by `app.audit.service` at commit time, never updated.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_object", "object_type", "object_id", "seq"),
        CheckConstraint("seq >= 1", name="seq_positive"),
    )

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, unique=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor_subject: str = Field(max_length=255, index=True)
    actor_role: str = Field(max_length=20)
    actor_scope: str | None = Field(default=None, max_length=20)
    object_type: str = Field(max_length=40)
    object_id: str = Field(max_length=64)
    departement: str | None = Field(default=None, max_length=3, index=True)
    action: str = Field(max_length=60, index=True)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    prev_hash: str = Field(max_length=64)
    # R-AUDIT-1: the id of the HMAC key (GUICHET_AUDIT_KEYS) that sealed `hash`.
    key_id: str = Field(max_length=40)
    hash: str = Field(max_length=64)


class AuditChainHead(SQLModel, table=True):
    """The last event of the chain (one row, created by the migration).

    Every append locks it (`SELECT … FOR UPDATE` on PostgreSQL; SQLite has one writer at a
    time anyway) as the last statement before COMMIT: the chain stays linear and `seq` is the
    commit order.
    """

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: int = Field(default=1, primary_key=True)
    last_seq: int = Field(default=0, sa_type=BigInteger)
    last_hash: str = Field(max_length=64)


class AuditCheckpoint(SQLModel, table=True):
    """R-AUDIT-1: a signed checkpoint of the chain head (a compact JWS, kept as published).

    The JWS is what anchors the head outside the database (auditors keep copies); this table
    only serves the latest one back. A checkpoint is verified from its JWS, never from here.
    """

    __tablename__ = "audit_checkpoint"

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    at: datetime = Field(sa_type=UTCDateTime)
    head_seq: int = Field(sa_type=BigInteger)
    head_hash: str = Field(max_length=64)
    key_id: str = Field(max_length=40)
    jws: str = Field(sa_type=Text)
