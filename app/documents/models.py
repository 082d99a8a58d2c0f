"""The document table (R-DOC-2): metadata of immutable stored bytes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index
from sqlalchemy.types import Uuid
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, utcnow


class Document(SQLModel, table=True):
    """One uploaded version: on a dossier (`project_id`) or on a candidate (`candidate_id`).

    Never overwritten nor deleted while its owner exists (R-DOC-2): a new upload of the same
    kind (and expense line) sets `superseded_at` on the one it replaces."""

    __tablename__ = "document"
    __table_args__ = (
        CheckConstraint("(project_id IS NULL) <> (candidate_id IS NULL)", name="one_owner"),
        CheckConstraint("size_bytes >= 0", name="size_positive"),
        CheckConstraint(
            "scan_status IN ('pending', 'clean', 'infected', 'unscanned')", name="scan_state"
        ),
        Index("ix_document_project_created", "project_id", "created_at", "id"),
        Index("ix_document_candidate_created", "candidate_id", "created_at", "id"),
        Index("ix_document_scan", "scan_status", "scan_next_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("project.id", ondelete="CASCADE"), nullable=True),
    )
    candidate_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("candidate.id", ondelete="CASCADE"), nullable=True),
    )
    # A quote's expense line; a line replaced by a PATCH of the dossier leaves it unset.
    expense_line_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("expense_line.id", ondelete="SET NULL"), nullable=True),
    )
    departement: str | None = Field(default=None, max_length=3)
    kind: str = Field(max_length=40)
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=120)
    size_bytes: int = Field(sa_type=BigInteger)
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=200)
    scan_status: str = Field(default="pending", max_length=10)
    scan_detail: str | None = Field(default=None, max_length=200)
    scanned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The scan worker's claim (issue 24 step B): lease and backoff, as the webhook outbox.
    scan_attempts: int = 0
    scan_next_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    scan_lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    scan_lease_token: uuid.UUID | None = None
    uploaded_by: str = Field(max_length=255)
    uploaded_role: str = Field(max_length=20)
    superseded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    superseded_by: uuid.UUID | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
