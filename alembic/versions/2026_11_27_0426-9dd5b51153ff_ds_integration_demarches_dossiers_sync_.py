"""ds integration: demarches, dossiers, sync runs, mutation outbox (issue 14)

A démarche's mapping (data), each imported dossier's link to its project (the DS number and id
are also kept on the project), the sync runs, and the outbox of decisions written back to DS.

Revision ID: 9dd5b51153ff
Revises: 30015c5c4311
Create Date: 2026-11-27 04:26:13.292348+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.core.types

revision: str = "9dd5b51153ff"
down_revision: str | None = "30015c5c4311"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ds_demarche",
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("departement", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_ds_demarche")),
    )
    with op.batch_alter_table("ds_demarche", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ds_demarche_departement"), ["departement"], unique=False
        )

    op.create_table(
        "ds_sync_run",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("demarche_number", sa.BigInteger(), nullable=False),
        sa.Column("departement", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("actor_subject", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("actor_role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("updated_since", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("high_water", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.Column("drafts", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ds_sync_run")),
    )
    with op.batch_alter_table("ds_sync_run", schema=None) as batch_op:
        batch_op.create_index("ix_ds_sync_run_created", ["created_at", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ds_sync_run_demarche_number"), ["demarche_number"], unique=False
        )

    op.create_table(
        "ds_dossier",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("dossier_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("dossier_number", sa.BigInteger(), nullable=False),
        sa.Column("demarche_number", sa.BigInteger(), nullable=False),
        sa.Column("departement", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("ds_state", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("content_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ds_modified_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("flagged_at", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("flag_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_ds_dossier_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_ds_dossier")),
        sa.UniqueConstraint("dossier_id", name=op.f("uq_ds_dossier_dossier_id")),
        sa.UniqueConstraint("dossier_number", name=op.f("uq_ds_dossier_dossier_number")),
    )
    with op.batch_alter_table("ds_dossier", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ds_dossier_demarche_number"), ["demarche_number"], unique=False
        )

    op.create_table(
        "ds_mutation",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("dossier_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("dossier_number", sa.BigInteger(), nullable=False),
        sa.Column("departement", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("motivation", sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=True),
        sa.Column(
            "client_mutation_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_token", sa.Uuid(), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("attempt_log", sa.JSON(), nullable=False),
        sa.Column("delivered_at", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_ds_mutation_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ds_mutation")),
    )
    with op.batch_alter_table("ds_mutation", schema=None) as batch_op:
        batch_op.create_index("ix_ds_mutation_dossier", ["dossier_id", "id"], unique=False)
        batch_op.create_index("ix_ds_mutation_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ds_mutation_project_id"), ["project_id"], unique=False)

    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ds_dossier_number", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("ds_dossier_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_project_ds_dossier_number"), ["ds_dossier_number"]
        )


def downgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_project_ds_dossier_number"), type_="unique")
        batch_op.drop_column("ds_dossier_id")
        batch_op.drop_column("ds_dossier_number")

    with op.batch_alter_table("ds_mutation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ds_mutation_project_id"))
        batch_op.drop_index("ix_ds_mutation_due")
        batch_op.drop_index("ix_ds_mutation_dossier")

    op.drop_table("ds_mutation")
    with op.batch_alter_table("ds_dossier", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ds_dossier_demarche_number"))

    op.drop_table("ds_dossier")
    with op.batch_alter_table("ds_sync_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ds_sync_run_demarche_number"))
        batch_op.drop_index("ix_ds_sync_run_created")

    op.drop_table("ds_sync_run")
    with op.batch_alter_table("ds_demarche", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ds_demarche_departement"))

    op.drop_table("ds_demarche")
