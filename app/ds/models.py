"""Tables of the démarches-simplifiées integration (issue 14): a démarche's mapping, each
imported dossier's link and state, sync runs, and the outbox of mutations written back."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer
from sqlalchemy.types import Uuid
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, utcnow, version_column

_DEMARCHE_VERSION = version_column()


class DsDemarche(SQLModel, table=True):
    """A DS démarche and its mapping (data, edited through the API with If-Match)."""

    __tablename__ = "ds_demarche"
    __mapper_args__ = {"version_id_col": _DEMARCHE_VERSION}  # noqa: RUF012

    number: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    # None: national (DINUM's); else the prefecture that configured it.
    departement: str | None = Field(default=None, max_length=3, index=True)
    mapping: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    updated_by: str = Field(max_length=255)
    version: int = Field(default=1, sa_column=_DEMARCHE_VERSION)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DsDossier(SQLModel, table=True):
    """One DS dossier imported as a project: what was last imported (its content's hash) and
    the DS state as this service last knew or set it."""

    __tablename__ = "ds_dossier"

    project_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    )
    dossier_id: str = Field(max_length=100, unique=True)
    dossier_number: int = Field(sa_type=BigInteger, unique=True)
    demarche_number: int = Field(sa_type=BigInteger, index=True)
    departement: str = Field(max_length=3)
    ds_state: str = Field(max_length=20)
    content_hash: str = Field(max_length=64)
    ds_modified_at: datetime = Field(sa_type=UTCDateTime)
    # Edited on DS after it was decided (or submitted) here: kept as it was, flagged.
    flagged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    flag_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DsSyncRun(SQLModel, table=True):
    """One sync of a démarche: who, what scope, from which high-water mark, the report."""

    __tablename__ = "ds_sync_run"
    __table_args__ = (Index("ix_ds_sync_run_created", "created_at", "id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    demarche_number: int = Field(sa_type=BigInteger, index=True)
    departement: str | None = Field(default=None, max_length=3)  # the prefect's scope
    actor_subject: str = Field(max_length=255)
    actor_role: str = Field(max_length=20)
    updated_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The latest dateDerniereModification seen: the next sync's updatedSince (DS's own clock).
    high_water: datetime | None = Field(default=None, sa_type=UTCDateTime)
    pages: int = 0
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    flagged: int = 0
    drafts: int = 0
    report: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DsMutation(SQLModel, table=True):
    """The outbox of decisions written back to DS, in the transaction of the change; claimed
    by the DS worker like webhook deliveries (lease, SKIP LOCKED, one at a time per dossier,
    in `id` order), retried with backoff until delivered."""

    __tablename__ = "ds_mutation"
    __table_args__ = (
        Index("ix_ds_mutation_due", "status", "next_attempt_at"),
        Index("ix_ds_mutation_dossier", "dossier_id", "id"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    project_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("project.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    dossier_id: str = Field(max_length=100)
    dossier_number: int = Field(sa_type=BigInteger)
    departement: str = Field(max_length=3)
    kind: str = Field(max_length=40)
    motivation: str | None = Field(default=None, max_length=5_000)
    client_mutation_id: str = Field(max_length=64)
    status: str = Field(default="pending", max_length=10)  # pending, delivered, failed
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_token: uuid.UUID | None = None
    last_error: str | None = Field(default=None, max_length=500)
    attempt_log: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
