"""Notification tables (R-NOTIF-1): the prefectures' addresses and the e-mail outbox."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, utcnow


class PrefectureAddress(SQLModel, table=True):
    """The address a département's prefecture is notified at, set by its prefect or DINUM.
    Personal data: shown only to them, never in lists, open data or logs."""

    __tablename__ = "notification_prefecture_address"

    departement: str = Field(max_length=3, primary_key=True)
    email: str = Field(max_length=254)
    updated_by: str = Field(max_length=255)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Notification(SQLModel, table=True):
    """One e-mail for one event and one recipient (the outbox row), written in the
    transaction of the change. R-NOTIF-1: (event_key, audience) is unique, so an event is never
    queued twice for the same recipient; `message_id` is derived from both."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("event_key", "audience", name="uq_notification_event_audience"),
        Index("ix_notification_due", "status", "next_attempt_at"),
        Index("ix_notification_project", "project_id", "id"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    # The audit event's id, or a derived key for an event no audit row stands for (a
    # committee becoming due: `due:<programme>:<département>:<since>`).
    event_key: str = Field(max_length=200)
    audience: str = Field(max_length=20)  # candidate, prefecture
    kind: str = Field(max_length=40)  # the template
    message_id: str = Field(max_length=300, unique=True)
    recipient: str = Field(max_length=254)
    project_id: uuid.UUID | None = None
    departement: str | None = Field(default=None, max_length=3)
    context: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    status: str = Field(default="pending", max_length=10)  # pending, sent, failed
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_token: uuid.UUID | None = None
    last_error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
