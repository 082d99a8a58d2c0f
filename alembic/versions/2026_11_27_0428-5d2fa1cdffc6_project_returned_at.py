"""project returned_at: a dossier returned for completion is told apart from a new draft

Backfilled from the history: the time of each dossier's last `return` transition.

Revision ID: 5d2fa1cdffc6
Revises: ee2350cb7c10
Create Date: 2026-11-27 04:22:09.184612+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.types

revision: str = "5d2fa1cdffc6"
down_revision: str | None = "ee2350cb7c10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("returned_at", app.core.types.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute(
        "UPDATE project SET returned_at = (SELECT MAX(t.at) FROM project_transition t "
        "WHERE t.project_id = project.id AND t.action = 'return')"
    )


def downgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("returned_at")
