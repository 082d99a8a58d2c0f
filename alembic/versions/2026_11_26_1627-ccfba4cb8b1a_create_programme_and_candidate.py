"""create programme and candidate

Revision ID: ccfba4cb8b1a
Revises:
Create Date: 2026-11-26 16:27:24.550560+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.core.types

revision: str = "ccfba4cb8b1a"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "candidate",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("siret", sqlmodel.sql.sqltypes.AutoString(length=14), nullable=False),
        sa.Column("siren", sqlmodel.sql.sqltypes.AutoString(length=9), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("epci_type", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("departement", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("region", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("commune_insee", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True),
        sa.Column("population", sa.Integer(), nullable=True),
        sa.Column("from_reference", sa.Boolean(), nullable=False),
        sa.Column("public_body_attestation", sa.Boolean(), nullable=False),
        sa.Column("contact_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("contact_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("contact_phone", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length(siret) = 14", name=op.f("ck_candidate_siret_length")),
        sa.CheckConstraint(
            "population IS NULL OR population >= 0", name=op.f("ck_candidate_population_positive")
        ),
        sa.CheckConstraint(
            "substr(siret, 1, 9) = siren", name=op.f("ck_candidate_siren_prefix_of_siret")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidate")),
        sa.UniqueConstraint("siren", name=op.f("uq_candidate_siren")),
    )
    with op.batch_alter_table("candidate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_candidate_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_candidate_departement"), ["departement"], unique=False)
        batch_op.create_index(batch_op.f("ix_candidate_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "programme",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("window_opens_on", sa.Date(), nullable=False),
        sa.Column("window_closes_on", sa.Date(), nullable=True),
        sa.Column("results_deadline", sa.Date(), nullable=False),
        sa.Column("max_duration_months", sa.Integer(), nullable=False),
        sa.Column("funding_cap_rate_bps", sa.Integer(), nullable=False),
        sa.Column("extra_eu_licence_share_cap_bps", sa.Integer(), nullable=False),
        sa.Column("committee_filing_threshold", sa.Integer(), nullable=False),
        sa.Column("committee_max_interval_days", sa.Integer(), nullable=False),
        sa.Column("advance_cap_bps", sa.Integer(), nullable=False),
        sa.Column("pre_final_payment_cap_bps", sa.Integer(), nullable=False),
        sa.Column("small_population_threshold", sa.Integer(), nullable=False),
        sa.Column("general_criteria", sa.JSON(), nullable=False),
        sa.Column("strands", sa.JSON(), nullable=False),
        sa.Column("forfaits", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "advance_cap_bps BETWEEN 0 AND 10000", name=op.f("ck_programme_advance_cap_bps_range")
        ),
        sa.CheckConstraint(
            "extra_eu_licence_share_cap_bps BETWEEN 0 AND 9999",
            name=op.f("ck_programme_extra_eu_licence_share_cap_bps_range"),
        ),
        sa.CheckConstraint(
            "funding_cap_rate_bps BETWEEN 0 AND 10000",
            name=op.f("ck_programme_funding_cap_rate_bps_range"),
        ),
        sa.CheckConstraint(
            "pre_final_payment_cap_bps BETWEEN 0 AND 10000",
            name=op.f("ck_programme_pre_final_payment_cap_bps_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme")),
        sa.UniqueConstraint("code", name=op.f("uq_programme_code")),
    )


def downgrade() -> None:
    op.drop_table("programme")
    with op.batch_alter_table("candidate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_candidate_updated_at"))
        batch_op.drop_index(batch_op.f("ix_candidate_departement"))
        batch_op.drop_index(batch_op.f("ix_candidate_created_at"))

    op.drop_table("candidate")
