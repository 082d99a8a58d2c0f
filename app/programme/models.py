"""Programme table: one row per call; policy lives here, not in settings."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, UniqueConstraint
from sqlalchemy.types import Uuid
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, utcnow, version_column


class ProgrammeStatus(StrEnum):
    """R-PROG-1: a programme's life."""

    DRAFT = "draft"
    PUBLISHED = "published"
    CLOSED = "closed"


STRAND_CODE_LENGTH = 20  # a strand's code, wherever a row names its strand

# Optimistic concurrency (R-FLOW-3): every UPDATE checks and bumps it; a lost race is a 412.
_PROGRAMME_VERSION = version_column()


class Programme(SQLModel, table=True):
    __tablename__ = "programme"
    __table_args__ = (
        CheckConstraint(
            "funding_cap_rate_bps BETWEEN 0 AND 10000", name="funding_cap_rate_bps_range"
        ),
        CheckConstraint(
            "extra_eu_licence_share_cap_bps BETWEEN 0 AND 9999",
            name="extra_eu_licence_share_cap_bps_range",
        ),
        CheckConstraint("advance_cap_bps BETWEEN 0 AND 10000", name="advance_cap_bps_range"),
        CheckConstraint(
            "pre_final_payment_cap_bps BETWEEN 0 AND 10000", name="pre_final_payment_cap_bps_range"
        ),
        CheckConstraint(
            "status IN ('draft', 'published', 'closed')", name="programme_status_known"
        ),
    )
    __mapper_args__ = {"version_id_col": _PROGRAMME_VERSION}  # noqa: RUF012

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    title: str = Field(max_length=300)
    # R-PROG-1: drafted by DINUM, published (dossiers may be filed), closed (readable only).
    status: str = Field(default=ProgrammeStatus.PUBLISHED.value, max_length=20)
    # SCDL `dispositifAide`: the name under which the open data lists its grants.
    dispositif_aide: str = Field(max_length=300)
    eligible_kinds: list[str] = Field(sa_type=JSON)  # R-ELIG-1, per programme
    # R-PROG-1: [{"code", "label", "excluded", "share_capped"}, …] (R-EXCL-1, R-EXCL-2)
    categories: list[dict[str, Any]] = Field(sa_type=JSON)
    window_opens_on: date
    window_closes_on: date | None = None
    results_deadline: date
    max_duration_months: int
    funding_cap_rate_bps: int
    extra_eu_licence_share_cap_bps: int
    committee_filing_threshold: int
    committee_max_interval_days: int
    advance_cap_bps: int
    pre_final_payment_cap_bps: int
    small_population_threshold: int
    general_criteria: list[dict[str, Any]] = Field(sa_type=JSON)
    strands: list[dict[str, Any]] = Field(sa_type=JSON)
    forfaits: list[dict[str, Any]] = Field(sa_type=JSON)
    # R-DOC-1: [{"code", "label", "owner", "step", "strands", "candidate_kinds",
    # "per_line_above_cents", "allowed_types", "max_bytes"}, …]
    required_documents: list[dict[str, Any]] = Field(sa_type=JSON)
    version: int = Field(default=1, sa_column=_PROGRAMME_VERSION)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


_FORFAITS_VERSION = version_column()


class DepartementForfaits(SQLModel, table=True):
    """R-CAP-3: a prefect's own forfait schedule for its département (else the programme's)."""

    __tablename__ = "departement_forfaits"
    __table_args__ = (
        UniqueConstraint("programme_id", "departement", name="uq_departement_forfaits_scope"),
    )
    __mapper_args__ = {"version_id_col": _FORFAITS_VERSION}  # noqa: RUF012

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    programme_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("programme.id", ondelete="RESTRICT"), nullable=False)
    )
    departement: str = Field(max_length=3)
    tiers: list[dict[str, Any]] = Field(sa_type=JSON)
    updated_by: str = Field(max_length=255)
    version: int = Field(default=1, sa_column=_FORFAITS_VERSION)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ScoringGrid(SQLModel, table=True):
    """R-EVAL-1: one version of a strand's scoring grid (general + strand criteria, weighted).

    Append-only: DINUM's edits of the criteria add a version, so an evaluation that refers to
    the version it scored keeps its weighted total whatever the weights become.
    """

    __tablename__ = "scoring_grid"
    __table_args__ = (
        UniqueConstraint("programme_id", "strand", "version", name="uq_scoring_grid_version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    programme_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("programme.id", ondelete="RESTRICT"), nullable=False)
    )
    strand: str = Field(max_length=STRAND_CODE_LENGTH)
    version: int
    # [{"code", "label", "weight", "group": "general" | "strand"}, …], general criteria first.
    criteria: list[dict[str, Any]] = Field(sa_type=JSON)
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProgrammeVersion(SQLModel, table=True):
    """R-PROG-2: the document of each published version of a programme, as published.

    Append-only: written at publication and at each edit of a published programme, so that
    what a grant was decided under (R-PAY-4, its `programme_version`) can always be read.
    """

    __tablename__ = "programme_version"
    __table_args__ = (
        UniqueConstraint("programme_id", "version", name="uq_programme_version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    programme_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("programme.id", ondelete="RESTRICT"), nullable=False)
    )
    version: int
    document: dict[str, Any] = Field(sa_type=JSON)
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
