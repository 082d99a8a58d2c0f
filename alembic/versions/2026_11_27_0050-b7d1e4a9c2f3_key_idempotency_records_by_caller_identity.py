"""key idempotency records by the caller's whole identity (subject, role, scope)

Two tokens sharing a `sub` (the prefects of 13 and 2A, say) are two callers: an
Idempotency-Key of one must never replay the answer given to the other.

Revision ID: b7d1e4a9c2f3
Revises: fd2f47c41a3d
Create Date: 2026-11-27 00:50:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "b7d1e4a9c2f3"
down_revision: str | None = "877ddffa05c8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Records older than the retention (24 h) are purged on use; the ones still alive were
    # recorded without role or scope: they can no longer be attributed to one caller safely.
    op.execute("DELETE FROM idempotency_record")
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "principal_role",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(
            sa.Column(
                "principal_scope",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                nullable=False,
                server_default="",
            )
        )
        batch_op.drop_constraint("uq_idempotency_record_principal_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_idempotency_record_identity_key",
            ["principal_subject", "principal_role", "principal_scope", "key"],
        )
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.alter_column("principal_role", server_default=None)
        batch_op.alter_column("principal_scope", server_default=None)


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_record")
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.drop_constraint("uq_idempotency_record_identity_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_idempotency_record_principal_key", ["principal_subject", "key"]
        )
        batch_op.drop_column("principal_scope")
        batch_op.drop_column("principal_role")
