"""Committee tables: the committee (members as JSON), its agenda items and their decisions.

One current decision per (committee, dossier) lives on the agenda item itself; a dossier is on
at most one open agenda at a time (partial UNIQUE index on open items, R-COM-2).
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
    UniqueConstraint,
    text,
)
from sqlalchemy.types import Uuid
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, utcnow, version_column

_COMMITTEE_VERSION = version_column()


class Committee(SQLModel, table=True):
    """A département's selection committee: planned → in_session → closed, or planned →
    cancelled while it has no decision (R-COM-2)."""

    __tablename__ = "committee"
    __table_args__ = (
        CheckConstraint(
            "status IN ('planned', 'in_session', 'closed', 'cancelled')",
            name="committee_status_known",
        ),
        Index("ix_committee_departement_status", "departement", "status"),
    )
    __mapper_args__ = {"version_id_col": _COMMITTEE_VERSION}  # noqa: RUF012

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    programme_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("programme.id", ondelete="RESTRICT"), nullable=False)
    )
    departement: str = Field(max_length=3)
    title: str | None = Field(default=None, max_length=200)
    meeting_on: date
    # [{name, role}]; the first member chairs the committee.
    members: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    status: str = Field(default="planned", max_length=20)
    # What the envelope had available when the committee closed, before and after its grants.
    envelope_available_before_cents: int | None = Field(default=None, sa_type=BigInteger)
    envelope_available_after_cents: int | None = Field(default=None, sa_type=BigInteger)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    closed_by: str | None = Field(default=None, max_length=255)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_by: str | None = Field(default=None, max_length=255)
    created_by: str = Field(max_length=255)
    version: int = Field(default=1, sa_column=_COMMITTEE_VERSION)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class AgendaItem(SQLModel, table=True):
    """A dossier on a committee's agenda, with the committee's current decision on it."""

    __tablename__ = "committee_agenda_item"
    __table_args__ = (
        UniqueConstraint("committee_id", "project_id", name="uq_agenda_committee_project"),
        # R-COM-2: a dossier is on at most one open agenda at a time.
        Index(
            "uq_agenda_open_project",
            "project_id",
            unique=True,
            sqlite_where=text("is_open"),
            postgresql_where=text("is_open"),
        ),
        CheckConstraint(
            "outcome IS NULL OR outcome IN ('accepted', 'rejected', 'deferred')",
            name="outcome_known",
        ),
        CheckConstraint(
            "outcome IS NULL OR outcome <> 'accepted' "
            "OR (granted_cents IS NOT NULL AND granted_cents > 0)",
            name="accepted_has_amount",
        ),
        CheckConstraint(
            "outcome IS NULL OR outcome = 'accepted' OR granted_cents IS NULL",
            name="amount_only_when_accepted",
        ),
        CheckConstraint(
            "outcome IS NULL OR outcome <> 'rejected' OR motivation IS NOT NULL",
            name="rejected_has_motivation",
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    committee_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("committee.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    project_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("project.id", ondelete="RESTRICT"), nullable=False, index=True
        )
    )
    # True until the committee closes: then accepted/rejected dossiers are decided and deferred
    # ones leave the agenda, free to go on a later committee.
    is_open: bool = Field(default=True)
    added_by: str = Field(max_length=255)
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    outcome: str | None = Field(default=None, max_length=20)
    granted_cents: int | None = Field(default=None, sa_type=BigInteger)
    motivation: str | None = Field(default=None, max_length=5_000)
    decided_by: str | None = Field(default=None, max_length=255)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # What the decision was taken against (recorded with it, refreshed at the close).
    eligible_cost_cents: int | None = Field(default=None, sa_type=BigInteger)
    max_grant_cents: int | None = Field(default=None, sa_type=BigInteger)
    forfait_cents: int | None = Field(default=None, sa_type=BigInteger)
    envelope_available_before_cents: int | None = Field(default=None, sa_type=BigInteger)
    envelope_available_after_cents: int | None = Field(default=None, sa_type=BigInteger)
    # The grant's reference (budgets' Grant.reference / ledger movement reference).
    reference: str | None = Field(default=None, max_length=300)
    # R-COM-2: the dossier left the open agenda when it was returned, withdrawn or closed
    # (is_open is then false); the minutes say so.
    left_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    left_reason: str | None = Field(default=None, max_length=20)
