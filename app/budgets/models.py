"""Envelope, ledger, grant, convention and payment tables.

Money moves only through conditional UPDATEs on the envelope and grant rows, in the same
transaction as the ledger movement that records it; CHECK constraints are the backstop.
"""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    UniqueConstraint,
)
from sqlalchemy.types import Uuid
from sqlmodel import Field, SQLModel, col

from app.core.types import UTCDateTime, utcnow


class Envelope(SQLModel, table=True):
    """One per (programme, département): allocated ≥ committed ≥ paid ≥ 0, always (R-CAP-4)."""

    __tablename__ = "envelope"
    __table_args__ = (
        UniqueConstraint("programme_id", "departement", name="uq_envelope_programme_departement"),
        CheckConstraint(
            "committed_cents >= 0 AND committed_cents <= allocated_cents",
            name="committed_within_allocated",
        ),
        CheckConstraint(
            "paid_cents >= 0 AND paid_cents <= committed_cents", name="paid_within_committed"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    programme_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("programme.id", ondelete="RESTRICT"), nullable=False)
    )
    departement: str = Field(max_length=3, index=True)
    prefecture_name: str = Field(max_length=300)
    prefecture_siret: str = Field(max_length=14)
    allocated_cents: int = Field(default=0, sa_type=BigInteger)
    committed_cents: int = Field(default=0, sa_type=BigInteger)
    paid_cents: int = Field(default=0, sa_type=BigInteger)
    # Bumped by every conditional UPDATE (money moves are Core statements, not ORM flushes).
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, default=1))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class LedgerMovement(SQLModel, table=True):
    """Append-only history of an envelope: the figures are the sums of these deltas."""

    __tablename__ = "ledger_movement"
    # Issue 13: an envelope's page of movements in id order is one index range.
    __table_args__ = (Index("ix_ledger_movement_envelope_seq", "envelope_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    envelope_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("envelope.id", ondelete="RESTRICT"), nullable=False, index=True
        )
    )
    kind: str = Field(max_length=20)
    allocated_delta_cents: int = Field(default=0, sa_type=BigInteger)
    committed_delta_cents: int = Field(default=0, sa_type=BigInteger)
    paid_delta_cents: int = Field(default=0, sa_type=BigInteger)
    project_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(
            Uuid, ForeignKey("project.id", ondelete="RESTRICT"), nullable=True, index=True
        ),
    )
    reference: str | None = Field(default=None, max_length=300)
    actor_subject: str = Field(max_length=255)
    actor_role: str = Field(max_length=20)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class Grant(SQLModel, table=True):
    """The subsidy of an accepted project: one per project, ever (a double accept fails)."""

    __tablename__ = "project_grant"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint(
            "paid_cents >= 0 AND paid_cents <= amount_cents", name="paid_within_amount"
        ),
        CheckConstraint(
            "advance_paid_cents >= 0 AND advance_paid_cents <= paid_cents",
            name="advance_within_paid",
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("project.id", ondelete="RESTRICT"), nullable=False, unique=True
        )
    )
    envelope_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("envelope.id", ondelete="RESTRICT"), nullable=False, index=True
        )
    )
    amount_cents: int = Field(sa_type=BigInteger)
    paid_cents: int = Field(default=0, sa_type=BigInteger)
    advance_paid_cents: int = Field(default=0, sa_type=BigInteger)
    released_cents: int = Field(default=0, sa_type=BigInteger)
    status: str = Field(default="active", max_length=20)
    reference: str | None = Field(default=None, max_length=300)
    final_report_on: date | None = None
    final_report_summary: str | None = Field(default=None, max_length=10_000)
    # R-PAY-4: the terms that govern the grant for life, frozen when its committee closes (in
    # commit_grant, inside the close's transaction); later programme changes never reach them.
    eligible_cost_cents: int = Field(sa_type=BigInteger)
    aid_rate_bps: int  # the funding cap rate of the dossier's strand in force (R-CAP-1)
    forfait_cents: int | None = Field(default=None, sa_type=BigInteger)  # R-CAP-3
    forfait_tier: str | None = Field(default=None, max_length=300)  # the tier's label
    advance_cap_bps: int  # R-PAY-1
    pre_final_payment_cap_bps: int  # R-PAY-2
    programme_version: int
    grid_version: int | None = None  # the dossier's strand grid in force (R-EVAL-1)
    committed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def net_cents(self) -> int:
        """§5: the grant's net amount (see `net_amount`)."""
        return self.amount_cents - self.released_cents


def net_amount() -> Any:
    """§5: a grant's net amount, defined once: granted less what was released at settlement or
    on cancellation (R-CAP-5). What an active grant still commits, what a settled or cancelled
    one paid; the envelopes' committed is their grants' sum of it. As an SQL expression."""
    return col(Grant.amount_cents) - col(Grant.released_cents)


class Convention(SQLModel, table=True):
    """The convention (CRTE or ad hoc) that formalises a grant."""

    __tablename__ = "convention"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("project.id", ondelete="RESTRICT"), nullable=False, unique=True
        )
    )
    reference: str = Field(max_length=100)
    kind: str = Field(max_length=10)
    signed_on: date
    schedule: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Payment(SQLModel, table=True):
    __tablename__ = "payment"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("project.id", ondelete="RESTRICT"), nullable=False, index=True
        )
    )
    grant_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("project_grant.id", ondelete="RESTRICT"), nullable=False)
    )
    kind: str = Field(max_length=20)
    amount_cents: int = Field(sa_type=BigInteger)
    paid_on: date
    reference: str | None = Field(default=None, max_length=100)
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
