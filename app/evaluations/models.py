"""Evaluation table: one evaluation per evaluator per dossier (R-EVAL-2)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Index, text
from sqlalchemy.types import Uuid
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, utcnow, version_column

# Optimistic concurrency (R-FLOW-3): every UPDATE checks and bumps it; a lost race is a 412.
_EVALUATION_VERSION = version_column()


class Evaluation(SQLModel, table=True):
    __tablename__ = "evaluation"
    __table_args__ = (
        # R-EVAL-2: one per evaluator per dossier, whatever the interleaving of requests;
        # R-EVAL-5: a void one (of the dossier's former strand) leaves room for a new one.
        Index(
            "uq_evaluation_evaluator",
            "project_id",
            "evaluator_subject",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        CheckConstraint("status IN ('active', 'void')", name="status_known"),
        CheckConstraint(
            "weighted_total_centi BETWEEN 0 AND 500", name="weighted_total_centi_range"
        ),
        # R-EVAL-2: a recused evaluator leaves neither scores nor total nor recommendation.
        CheckConstraint(
            "(recused AND scores IS NULL AND weighted_total_centi IS NULL "
            "AND recommendation IS NULL) OR (NOT recused AND scores IS NOT NULL "
            "AND weighted_total_centi IS NOT NULL AND recommendation IS NOT NULL)",
            name="recused_without_scores",
        ),
        # Issue 13: a dossier's evaluations in keyset order.
        Index("ix_evaluation_project_created", "project_id", "created_at", "id"),
    )
    __mapper_args__ = {"version_id_col": _EVALUATION_VERSION}  # noqa: RUF012

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("project.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    evaluator_subject: str = Field(max_length=255)
    evaluator_role: str = Field(max_length=20)
    advisory: bool = False  # R-EVAL-3: ANCT's, shown apart, never in the mean
    recused: bool = False  # R-EVAL-2: conflict of interest declared
    # R-EVAL-5: `void` once the dossier changed strand (kept, readable, out of every mean).
    status: str = Field(
        default="active", max_length=10, sa_column_kwargs={"server_default": "active"}
    )
    # R-EVAL-1: the grid version it scored; its total never follows later weight changes.
    grid_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("scoring_grid.id", ondelete="RESTRICT"), nullable=False)
    )
    grid_version: int
    # none_as_null: a recused evaluation stores SQL NULL (the CHECK reads it), not JSON null.
    scores: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True), nullable=True)
    )
    weighted_total_centi: int | None = None
    recommendation: str | None = Field(default=None, max_length=20)
    comments: str | None = Field(default=None, max_length=10_000)
    version: int = Field(default=1, sa_column=_EVALUATION_VERSION)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
