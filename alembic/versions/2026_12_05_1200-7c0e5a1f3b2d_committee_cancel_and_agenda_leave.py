"""committee cancelled status and agenda items that left (R-COM-2)

A planned committee with no decision can be cancelled (`cancelled_at`, `cancelled_by`); a
dossier returned, withdrawn or closed while on an open agenda leaves it (`left_at`,
`left_reason`), which the minutes show.

Revision ID: 7c0e5a1f3b2d
Revises: 7c1e4f0a9b23
Create Date: 2026-12-05 11:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.core.types

revision: str = "7c0e5a1f3b2d"
down_revision: str | None = "7c1e4f0a9b23"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("committee", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cancelled_at", app.core.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("cancelled_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True)
        )
        batch_op.drop_constraint(op.f("ck_committee_committee_status_known"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_committee_committee_status_known"),
            "status IN ('planned', 'in_session', 'closed', 'cancelled')",
        )
    with op.batch_alter_table("committee_agenda_item", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("left_at", app.core.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("left_reason", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )


def downgrade() -> None:
    op.execute("UPDATE committee SET status = 'planned' WHERE status = 'cancelled'")
    with op.batch_alter_table("committee_agenda_item", schema=None) as batch_op:
        batch_op.drop_column("left_reason")
        batch_op.drop_column("left_at")
    with op.batch_alter_table("committee", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_committee_committee_status_known"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_committee_committee_status_known"),
            "status IN ('planned', 'in_session', 'closed')",
        )
        batch_op.drop_column("cancelled_by")
        batch_op.drop_column("cancelled_at")
