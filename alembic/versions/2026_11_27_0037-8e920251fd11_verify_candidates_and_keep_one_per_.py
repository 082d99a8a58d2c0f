"""verify candidates and keep one per territory

R-REF-2: a verification state on every candidate (communes and EPCI of the reference are
verified, the others to verify). R-REF-1: a unique "territory" for candidates of kind
departement or region (NULL otherwise), so one candidate per département or région code.
Existing duplicates keep no territory but the oldest one; they stay to verify.

Revision ID: 8e920251fd11
Revises: fd2f47c41a3d
Create Date: 2026-11-27 00:37:57.581177+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.core.types

revision: str = "8e920251fd11"
down_revision: str | None = "fd2f47c41a3d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("candidate", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("territory", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )
        batch_op.add_column(
            sa.Column("verification", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "verification_reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "verification_decided_by",
                sqlmodel.sql.sqltypes.AutoString(length=255),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "verification_decided_at", app.core.types.UTCDateTime(timezone=True), nullable=True
            )
        )

    op.execute(
        "UPDATE candidate SET verification = CASE "
        "WHEN kind IN ('commune', 'epci') AND from_reference THEN 'verified' "
        "ELSE 'to_verify' END"
    )
    # The oldest candidate of each département or région code keeps the territory.
    for kind, column in (("departement", "departement"), ("region", "region")):
        op.execute(
            f"UPDATE candidate SET territory = '{kind}:' || {column} "
            f"WHERE kind = '{kind}' AND {column} IS NOT NULL AND NOT EXISTS ("
            f"SELECT 1 FROM candidate AS older WHERE older.kind = '{kind}' "
            f"AND older.{column} = candidate.{column} "
            "AND (older.created_at < candidate.created_at "
            "OR (older.created_at = candidate.created_at AND older.id < candidate.id)))"
        )

    with op.batch_alter_table("candidate", schema=None) as batch_op:
        batch_op.alter_column(
            "verification",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=12),
            nullable=False,
        )
        batch_op.create_index(
            batch_op.f("ix_candidate_verification"), ["verification"], unique=False
        )
        batch_op.create_unique_constraint(batch_op.f("uq_candidate_territory"), ["territory"])
        batch_op.create_check_constraint(
            batch_op.f("ck_candidate_verification_state"),
            "verification IN ('to_verify', 'verified', 'refused')",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_candidate_refusal_has_a_reason"),
            "verification <> 'refused' OR verification_reason IS NOT NULL",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_candidate_territory_of_kind"),
            "territory IS NULL OR (kind = 'departement' AND territory = 'departement:' || "
            "departement) OR (kind = 'region' AND territory = 'region:' || region)",
        )


def downgrade() -> None:
    with op.batch_alter_table("candidate", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_candidate_territory_of_kind"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_candidate_refusal_has_a_reason"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_candidate_verification_state"), type_="check")
        batch_op.drop_constraint(batch_op.f("uq_candidate_territory"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_candidate_verification"))
        batch_op.drop_column("verification_decided_at")
        batch_op.drop_column("verification_decided_by")
        batch_op.drop_column("verification_reason")
        batch_op.drop_column("verification")
        batch_op.drop_column("territory")
