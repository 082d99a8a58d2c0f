"""create budgets, grants, payments, forfaits and idempotency

Revision ID: fd2f47c41a3d
Revises: e5bfee9c1ef8
Create Date: 2026-11-26 16:41:55.551694+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.core.types

revision: str = "fd2f47c41a3d"
down_revision: str | None = "e5bfee9c1ef8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "principal_subject", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False
        ),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("operation", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("request_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.JSON(), nullable=True),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_record")),
        sa.UniqueConstraint("principal_subject", "key", name="uq_idempotency_record_principal_key"),
    )
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_record_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "departement_forfaits",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("departement", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("tiers", sa.JSON(), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programme.id"],
            name=op.f("fk_departement_forfaits_programme_id_programme"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departement_forfaits")),
        sa.UniqueConstraint("programme_id", "departement", name="uq_departement_forfaits_scope"),
    )
    op.create_table(
        "envelope",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("departement", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("prefecture_name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("prefecture_siret", sqlmodel.sql.sqltypes.AutoString(length=14), nullable=False),
        sa.Column("allocated_cents", sa.BigInteger(), nullable=False),
        sa.Column("committed_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_cents", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "committed_cents >= 0 AND committed_cents <= allocated_cents",
            name=op.f("ck_envelope_committed_within_allocated"),
        ),
        sa.CheckConstraint(
            "paid_cents >= 0 AND paid_cents <= committed_cents",
            name=op.f("ck_envelope_paid_within_committed"),
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programme.id"],
            name=op.f("fk_envelope_programme_id_programme"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_envelope")),
        sa.UniqueConstraint(
            "programme_id", "departement", name="uq_envelope_programme_departement"
        ),
    )
    with op.batch_alter_table("envelope", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_envelope_departement"), ["departement"], unique=False)
        batch_op.create_index(batch_op.f("ix_envelope_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "convention",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_convention_project_id_project"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_convention")),
        sa.UniqueConstraint("project_id", name=op.f("uq_convention_project_id")),
    )
    op.create_table(
        "ledger_movement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("envelope_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("allocated_delta_cents", sa.BigInteger(), nullable=False),
        sa.Column("committed_delta_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_delta_cents", sa.BigInteger(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("actor_subject", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("actor_role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["envelope_id"],
            ["envelope.id"],
            name=op.f("fk_ledger_movement_envelope_id_envelope"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_ledger_movement_project_id_project"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_movement")),
    )
    with op.batch_alter_table("ledger_movement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_movement_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ledger_movement_envelope_id"), ["envelope_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_movement_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "project_grant",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("envelope_id", sa.Uuid(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_cents", sa.BigInteger(), nullable=False),
        sa.Column("advance_paid_cents", sa.BigInteger(), nullable=False),
        sa.Column("released_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("final_report_on", sa.Date(), nullable=True),
        sa.Column(
            "final_report_summary", sqlmodel.sql.sqltypes.AutoString(length=10000), nullable=True
        ),
        sa.Column("committed_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "advance_paid_cents >= 0 AND advance_paid_cents <= paid_cents",
            name=op.f("ck_project_grant_advance_within_paid"),
        ),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_project_grant_amount_positive")),
        sa.CheckConstraint(
            "paid_cents >= 0 AND paid_cents <= amount_cents",
            name=op.f("ck_project_grant_paid_within_amount"),
        ),
        sa.ForeignKeyConstraint(
            ["envelope_id"],
            ["envelope.id"],
            name=op.f("fk_project_grant_envelope_id_envelope"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_project_grant_project_id_project"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_grant")),
        sa.UniqueConstraint("project_id", name=op.f("uq_project_grant_project_id")),
    )
    with op.batch_alter_table("project_grant", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_project_grant_envelope_id"), ["envelope_id"], unique=False
        )

    op.create_table(
        "payment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_payment_amount_positive")),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["project_grant.id"],
            name=op.f("fk_payment_grant_id_project_grant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_payment_project_id_project"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
    )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_project_id"))

    op.drop_table("payment")
    with op.batch_alter_table("project_grant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_grant_envelope_id"))

    op.drop_table("project_grant")
    with op.batch_alter_table("ledger_movement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_movement_project_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_movement_envelope_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_movement_at"))

    op.drop_table("ledger_movement")
    op.drop_table("convention")
    with op.batch_alter_table("envelope", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_envelope_updated_at"))
        batch_op.drop_index(batch_op.f("ix_envelope_departement"))

    op.drop_table("envelope")
    op.drop_table("departement_forfaits")
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_record_created_at"))

    op.drop_table("idempotency_record")
