"""issue 24 documents: the document table (R-DOC-2), on a dossier or a candidate

Revision ID: 58ea8442c1a3
Revises: 3f6b2c8e1d47
Create Date: 2026-12-05 12:00:11.574991+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.core.types

revision: str = "58ea8442c1a3"
down_revision: str | None = "3f6b2c8e1d47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "document",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("candidate_id", sa.Uuid(), nullable=True),
        sa.Column("expense_line_id", sa.Uuid(), nullable=True),
        sa.Column("departement", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("storage_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("scan_status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("scan_detail", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("scanned_at", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("scan_attempts", sa.Integer(), nullable=False),
        sa.Column("scan_next_at", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("scan_lease_until", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("scan_lease_token", sa.Uuid(), nullable=True),
        sa.Column("uploaded_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("uploaded_role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("superseded_at", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("superseded_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "scan_status IN ('pending', 'clean', 'infected', 'unscanned')",
            name=op.f("ck_document_scan_state"),
        ),
        sa.CheckConstraint(
            "(project_id IS NULL) <> (candidate_id IS NULL)", name=op.f("ck_document_one_owner")
        ),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("ck_document_size_positive")),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidate.id"],
            name=op.f("fk_document_candidate_id_candidate"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["expense_line_id"],
            ["expense_line.id"],
            name=op.f("fk_document_expense_line_id_expense_line"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_document_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document")),
    )
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.create_index(
            "ix_document_candidate_created", ["candidate_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_document_project_created", ["project_id", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_document_scan", ["scan_status", "scan_next_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_index("ix_document_scan")
        batch_op.drop_index("ix_document_project_created")
        batch_op.drop_index("ix_document_candidate_created")

    op.drop_table("document")
