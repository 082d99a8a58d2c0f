"""Candidate table."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, utcnow, version_column

# Optimistic concurrency (R-FLOW-3): every UPDATE checks and bumps it; a lost race is a 412.
_CANDIDATE_VERSION = version_column()


class Candidate(SQLModel, table=True):
    __tablename__ = "candidate"
    __table_args__ = (
        CheckConstraint("length(siret) = 14", name="siret_length"),
        CheckConstraint("substr(siret, 1, 9) = siren", name="siren_prefix_of_siret"),
        CheckConstraint("population IS NULL OR population >= 0", name="population_positive"),
        # R-REF-2: the three states; a refusal always states its reason.
        CheckConstraint(
            "verification IN ('to_verify', 'verified', 'refused')", name="verification_state"
        ),
        CheckConstraint(
            "verification <> 'refused' OR verification_reason IS NOT NULL",
            name="refusal_has_a_reason",
        ),
        # R-REF-1: only départements and régions stand for a territory.
        CheckConstraint(
            "territory IS NULL OR (kind = 'departement' AND territory = 'departement:' || "
            "departement) OR (kind = 'region' AND territory = 'region:' || region)",
            name="territory_of_kind",
        ),
    )
    __mapper_args__ = {"version_id_col": _CANDIDATE_VERSION}  # noqa: RUF012

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    siret: str = Field(max_length=14)
    # R-ELIG-2: one candidate per SIREN.
    siren: str = Field(max_length=9, unique=True)
    name: str = Field(max_length=300)
    kind: str = Field(max_length=40)
    epci_type: str | None = Field(default=None, max_length=10)
    departement: str = Field(max_length=3, index=True)
    region: str | None = Field(default=None, max_length=3)
    commune_insee: str | None = Field(default=None, max_length=5)
    population: int | None = None
    from_reference: bool = False
    public_body_attestation: bool = False
    # R-REF-1: "departement:<code>" or "region:<code>" for those kinds only, NULL otherwise;
    # unique, so one candidate per département or région (NULLs never collide, on SQLite and
    # PostgreSQL alike).
    territory: str | None = Field(default=None, max_length=20, unique=True)
    # R-REF-2: to_verify, verified or refused (with its reason), decided by the prefect.
    verification: str = Field(max_length=12, index=True)
    verification_reason: str | None = Field(default=None, max_length=1000)
    verification_decided_by: str | None = Field(default=None, max_length=255)
    verification_decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    contact_name: str | None = Field(default=None, max_length=200)
    contact_role: str | None = Field(default=None, max_length=200)
    # R-NOTIF-1: where the candidate is notified (none: nothing is sent). Personal data: read
    # only by the candidate itself, never in lists, open data, logs or the audit trail.
    contact_email: str | None = Field(default=None, max_length=254)
    contact_phone: str | None = Field(default=None, max_length=30)
    created_by: str = Field(max_length=255)
    version: int = Field(default=1, sa_column=_CANDIDATE_VERSION)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
