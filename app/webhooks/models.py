"""Webhook subscriptions and their outbox (R-HOOK-1)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer
from sqlalchemy.types import Uuid
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, utcnow


class WebhookSubscription(SQLModel, table=True):
    """A receiver: DINUM's (every département) or a prefect's (its département only)."""

    __tablename__ = "webhook_subscription"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    url: str = Field(max_length=2000)
    description: str | None = Field(default=None, max_length=300)
    event_types: list[str] = Field(default_factory=list, sa_type=JSON)
    departement: str | None = Field(default=None, max_length=3, index=True)
    owner_subject: str = Field(max_length=255)
    owner_role: str = Field(max_length=20)
    # The HMAC key must be readable to sign: stored as issued (whsec_…), never shown again.
    secret: str = Field(max_length=100)
    previous_secret: str | None = Field(default=None, max_length=100)
    previous_secret_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default="active", max_length=10, index=True)
    disabled_reason: str | None = Field(default=None, max_length=500)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    """One event for one subscription (the outbox row), written in the transaction of the
    change; delivered in `id` order per subscription, at least once."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_subscription", "subscription_id", "id"),
    )

    # BIGINT on PostgreSQL; INTEGER on SQLite, whose rowid alias autoincrements only so.
    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    subscription_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("webhook_subscription.id", ondelete="CASCADE"), nullable=False
        )
    )
    event_id: uuid.UUID = Field(index=True)  # the audit event's id: the `webhook-id`
    event_seq: int = Field(sa_type=BigInteger)
    event_type: str = Field(max_length=40)
    object_type: str = Field(max_length=40)
    object_id: str = Field(max_length=64)
    departement: str | None = Field(default=None, max_length=3)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    summary: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    status: str = Field(default="pending", max_length=10)  # pending, delivered, failed
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_token: uuid.UUID | None = None
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    last_latency_ms: int | None = None
    attempt_log: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
