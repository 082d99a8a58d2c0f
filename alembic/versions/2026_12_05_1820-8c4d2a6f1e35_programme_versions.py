"""issue 26 R-PROG-1/R-PROG-2: the published versions of a programme (`programme_version`)

One row per published version of a programme: its document as published (append-only, UNIQUE
(programme, version)). An existing programme gets the row of the version it is at, built from
its columns (written out here: a migration never imports app code).

Revision ID: 8c4d2a6f1e35
Revises: 5e1c7a9b2d40
Create Date: 2026-12-06 09:00:00.000000+00:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.core.types

revision: str = "8c4d2a6f1e35"
down_revision: str | None = "5e1c7a9b2d40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The document's fields, as app.programme.schemas.ProgrammeDocument names them at this revision.
DOCUMENT_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("code", sa.String()),
    ("title", sa.String()),
    ("dispositif_aide", sa.String()),
    ("window_opens_on", sa.Date()),
    ("window_closes_on", sa.Date()),
    ("results_deadline", sa.Date()),
    ("max_duration_months", sa.Integer()),
    ("funding_cap_rate_bps", sa.Integer()),
    ("extra_eu_licence_share_cap_bps", sa.Integer()),
    ("committee_filing_threshold", sa.Integer()),
    ("committee_max_interval_days", sa.Integer()),
    ("advance_cap_bps", sa.Integer()),
    ("pre_final_payment_cap_bps", sa.Integer()),
    ("small_population_threshold", sa.Integer()),
    ("eligible_kinds", sa.JSON()),
    ("categories", sa.JSON()),
    ("general_criteria", sa.JSON()),
    ("strands", sa.JSON()),
    ("forfaits", sa.JSON()),
    ("required_documents", sa.JSON()),
)


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def upgrade() -> None:
    op.create_table(
        "programme_version",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_programme_version_version_positive")),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programme.id"],
            name=op.f("fk_programme_version_programme_id_programme"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_version")),
        sa.UniqueConstraint("programme_id", "version", name="uq_programme_version"),
    )
    programme = sa.table(
        "programme",
        sa.column("id", sa.Uuid()),
        sa.column("status", sa.String()),
        sa.column("version", sa.Integer()),
        *(sa.column(name, kind) for name, kind in DOCUMENT_COLUMNS),
    )
    versions = sa.table(
        "programme_version",
        sa.column("id", sa.Uuid()),
        sa.column("programme_id", sa.Uuid()),
        sa.column("version", sa.Integer()),
        sa.column("document", sa.JSON()),
        sa.column("created_by", sa.String()),
        sa.column("created_at", app.core.types.UTCDateTime(timezone=True)),
    )
    connection = op.get_bind()
    now = datetime.now(UTC)
    rows = connection.execute(sa.select(programme).where(programme.c.status != "draft")).mappings()
    for row in rows.all():
        connection.execute(
            versions.insert().values(
                id=uuid.uuid4(),
                programme_id=row["id"],
                version=row["version"],
                document={name: _json_value(row[name]) for name, _ in DOCUMENT_COLUMNS},
                created_by="migration",
                created_at=now,
            )
        )


def downgrade() -> None:
    op.drop_table("programme_version")
