"""Project (dossier) tables: the dossier, its expense and funding lines, its transitions."""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, ForeignKey, Index, text
from sqlalchemy.types import Uuid
from sqlmodel import Field, Relationship, SQLModel

from app.core.types import UTCDateTime, utcnow, version_column
from app.programme.models import STRAND_CODE_LENGTH

# Optimistic concurrency (R-FLOW-3): every UPDATE checks and bumps it; a lost race is a 412.
_PROJECT_VERSION = version_column()


class Project(SQLModel, table=True):
    __tablename__ = "project"
    __table_args__ = (
        CheckConstraint("requested_cents >= 0", name="requested_cents_positive"),
        CheckConstraint("total_cost_cents >= 0", name="total_cost_cents_positive"),
        CheckConstraint("agents_impacted >= 0", name="agents_impacted_positive"),
        CheckConstraint("users_impacted >= 0", name="users_impacted_positive"),
        Index("ix_project_departement_created", "departement", "created_at", "id"),
        # Issue 13: every list filter with the keyset order (created_at, id), so that a page is
        # one index range whatever the filter (chosen from EXPLAIN, BENCHMARKS.md).
        Index("ix_project_created", "created_at", "id"),
        Index("ix_project_status_created", "status", "created_at", "id"),
        Index("ix_project_departement_status_created", "departement", "status", "created_at", "id"),
        Index("ix_project_strand_created", "strand", "created_at", "id"),
        Index("ix_project_candidate_created", "candidate_id", "created_at", "id"),
        # Issue 13: the dashboards' two passes read only these columns (index-only scans of
        # a fraction of the table): the dossiers grouped by status, strand and candidate, and
        # the dossier of each grant (app.stats.repository, EXPLAIN in BENCHMARKS.md).
        Index(
            "ix_project_stats",
            "departement",
            "status",
            "strand",
            "candidate_id",
            "submitted_at",
            "requested_cents",
            "programme_id",
        ),
        # Issue 28: R-COM-1's waiting dossiers alone (committees.due), index-only, by
        # programme and département; the statuses are those of `committees.due.WAITING`.
        Index(
            "ix_project_waiting",
            "programme_id",
            "departement",
            "submitted_at",
            postgresql_where=text("status IN ('submitted', 'in_review')"),
            sqlite_where=text("status IN ('submitted', 'in_review')"),
        ),
        Index(
            "ix_project_grant_stats",
            "id",
            "departement",
            "strand",
            "candidate_id",
            "agents_impacted",
            "users_impacted",
            "programme_id",
        ),
        CheckConstraint(
            "evaluation_count >= 0 AND advisory_count >= 0", name="evaluation_counts_positive"
        ),
        CheckConstraint("mean_score_centi BETWEEN 0 AND 500", name="mean_score_centi_range"),
        CheckConstraint("advisory_mean_centi BETWEEN 0 AND 500", name="advisory_mean_centi_range"),
    )
    __mapper_args__ = {"version_id_col": _PROJECT_VERSION}  # noqa: RUF012

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    candidate_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("candidate.id", ondelete="RESTRICT"), nullable=False, index=True
        )
    )
    programme_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("programme.id", ondelete="RESTRICT"), nullable=False)
    )
    # Copied from the candidate at creation: the prefect's scope, indexed for scoped lists.
    departement: str = Field(max_length=3)
    strand: str = Field(max_length=STRAND_CODE_LENGTH, index=True)
    title: str = Field(max_length=200)
    description: str = Field(max_length=10_000)
    objectives: str | None = Field(default=None, max_length=10_000)
    nature: str | None = Field(default=None, max_length=20)
    start_on: date | None = None
    end_on: date | None = None
    sponsor_name: str | None = Field(default=None, max_length=200)
    sponsor_role: str | None = Field(default=None, max_length=200)
    team: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    agents_impacted: int = 0
    users_impacted: int = 0
    replicability: str | None = Field(default=None, max_length=10_000)
    open_source: bool = False
    requested_cents: int = Field(default=0, sa_type=BigInteger)
    # Sum of the expense lines, kept in step on every write so lists need no line query.
    total_cost_cents: int = Field(default=0, sa_type=BigInteger)
    status: str = Field(default="draft", max_length=20, index=True)
    status_message: str | None = Field(default=None, max_length=5_000)
    # When the prefect last returned the dossier for completion (issue 12): a draft with it
    # set is a returned dossier, not a new one; kept after the new submission, as a trace.
    returned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    created_by: str = Field(max_length=255)
    # R-EVAL-3/R-EVAL-4: the evaluations' summary, owned here so that projects never import
    # evaluations; written by `service.record_scores` only (no version or updated_at bump).
    # Prefecture evaluations that are not recused, and the mean of their weighted totals in
    # hundredths of a point; ANCT's advisory ones apart, never in the mean.
    evaluation_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    mean_score_centi: int | None = None
    advisory_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    advisory_mean_centi: int | None = None
    # Issue 14: a dossier imported from démarches-simplifiées keeps its DS number (the one its
    # applicant sees) and its GraphQL id (the one mutations take); None for dossiers filed here.
    ds_dossier_number: int | None = Field(
        default=None, sa_type=BigInteger, sa_column_kwargs={"unique": True}
    )
    ds_dossier_id: str | None = Field(default=None, max_length=100)
    version: int = Field(default=1, sa_column=_PROJECT_VERSION)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)

    expense_lines: list["ExpenseLine"] = Relationship(
        sa_relationship_kwargs={
            "lazy": "raise",
            "cascade": "all, delete-orphan",
            "order_by": "ExpenseLine.position",
        }
    )
    funding_lines: list["FundingLine"] = Relationship(
        sa_relationship_kwargs={
            "lazy": "raise",
            "cascade": "all, delete-orphan",
            "order_by": "FundingLine.position",
        }
    )


class ExpenseLine(SQLModel, table=True):
    __tablename__ = "expense_line"
    __table_args__ = (CheckConstraint("amount_cents >= 0", name="amount_cents_positive"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("project.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    position: int
    category: str = Field(max_length=30)
    label: str = Field(max_length=300)
    amount_cents: int = Field(sa_type=BigInteger)
    vendor_origin: str | None = Field(default=None, max_length=10)
    provider_departement: str | None = Field(default=None, max_length=3)


class FundingLine(SQLModel, table=True):
    """Other public funding declared for the project (R-CAP-2)."""

    __tablename__ = "funding_line"
    __table_args__ = (CheckConstraint("amount_cents >= 0", name="amount_cents_positive"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("project.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    position: int
    funder: str = Field(max_length=300)
    amount_cents: int = Field(sa_type=BigInteger)


class ProjectTransition(SQLModel, table=True):
    """R-FLOW-1: each transition, stamped with who and when (append-only)."""

    __tablename__ = "project_transition"

    # An integer key orders the history even when two stamps share a microsecond.
    id: int | None = Field(default=None, primary_key=True)
    project_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("project.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    action: str = Field(max_length=20)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str = Field(max_length=20)
    actor_subject: str = Field(max_length=255)
    actor_role: str = Field(max_length=20)
    message: str | None = Field(default=None, max_length=5_000)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
