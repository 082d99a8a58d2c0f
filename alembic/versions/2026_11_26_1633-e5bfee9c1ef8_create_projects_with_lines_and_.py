"""create projects with lines and transitions

Revision ID: e5bfee9c1ef8
Revises: ccfba4cb8b1a
Create Date: 2026-11-26 16:33:37.487686+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.core.types

revision: str = "e5bfee9c1ef8"
down_revision: str | None = "ccfba4cb8b1a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "project",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("candidate_id", sa.Uuid(), nullable=False),
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("departement", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("strand", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=10000), nullable=False),
        sa.Column("objectives", sqlmodel.sql.sqltypes.AutoString(length=10000), nullable=True),
        sa.Column("nature", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("start_on", sa.Date(), nullable=True),
        sa.Column("end_on", sa.Date(), nullable=True),
        sa.Column("sponsor_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("sponsor_role", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("team", sa.JSON(), nullable=False),
        sa.Column("agents_impacted", sa.Integer(), nullable=False),
        sa.Column("users_impacted", sa.Integer(), nullable=False),
        sa.Column("replicability", sqlmodel.sql.sqltypes.AutoString(length=10000), nullable=True),
        sa.Column("open_source", sa.Boolean(), nullable=False),
        sa.Column("requested_cents", sa.BigInteger(), nullable=False),
        sa.Column("total_cost_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("status_message", sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=True),
        sa.Column("submitted_at", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "agents_impacted >= 0", name=op.f("ck_project_agents_impacted_positive")
        ),
        sa.CheckConstraint(
            "requested_cents >= 0", name=op.f("ck_project_requested_cents_positive")
        ),
        sa.CheckConstraint(
            "total_cost_cents >= 0", name=op.f("ck_project_total_cost_cents_positive")
        ),
        sa.CheckConstraint("users_impacted >= 0", name=op.f("ck_project_users_impacted_positive")),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidate.id"],
            name=op.f("fk_project_candidate_id_candidate"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programme.id"],
            name=op.f("fk_project_programme_id_programme"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project")),
    )
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_project_candidate_id"), ["candidate_id"], unique=False)
        batch_op.create_index(
            "ix_project_departement_created", ["departement", "created_at", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_project_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_project_strand"), ["strand"], unique=False)
        batch_op.create_index(batch_op.f("ix_project_submitted_at"), ["submitted_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_project_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "expense_line",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("vendor_origin", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column(
            "provider_departement", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True
        ),
        sa.CheckConstraint("amount_cents >= 0", name=op.f("ck_expense_line_amount_cents_positive")),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_expense_line_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expense_line")),
    )
    with op.batch_alter_table("expense_line", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_expense_line_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "funding_line",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("funder", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_cents >= 0", name=op.f("ck_funding_line_amount_cents_positive")),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_funding_line_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_line")),
    )
    with op.batch_alter_table("funding_line", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_funding_line_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "project_transition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("from_status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("to_status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("actor_subject", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("actor_role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=True),
        sa.Column("at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_project_transition_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_transition")),
    )
    with op.batch_alter_table("project_transition", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_project_transition_project_id"), ["project_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("project_transition", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_transition_project_id"))

    op.drop_table("project_transition")
    with op.batch_alter_table("funding_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_funding_line_project_id"))

    op.drop_table("funding_line")
    with op.batch_alter_table("expense_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expense_line_project_id"))

    op.drop_table("expense_line")
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_updated_at"))
        batch_op.drop_index(batch_op.f("ix_project_submitted_at"))
        batch_op.drop_index(batch_op.f("ix_project_strand"))
        batch_op.drop_index(batch_op.f("ix_project_status"))
        batch_op.drop_index("ix_project_departement_created")
        batch_op.drop_index(batch_op.f("ix_project_candidate_id"))

    op.drop_table("project")
