"""issue 26 R-PROG-1: a published grant row names its programme's SCDL `dispositifAide`

The open-data export stays one indexed scan of `published_grant`: the dispositif is written on
the row (by app.opendata.publish, from the grant's programme) instead of joined at read time.
The rows already published take their programme's.

Revision ID: 7c3d9e1f4a25
Revises: 7c3e91b5a2d4
Create Date: 2026-12-06 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c3d9e1f4a25"
down_revision: str | None = "7c3e91b5a2d4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("published_grant") as batch_op:
        batch_op.add_column(sa.Column("dispositif_aide", sa.String(length=300), nullable=True))
    op.execute(
        "UPDATE published_grant SET dispositif_aide = ("
        " SELECT programme.dispositif_aide FROM project_grant"
        " JOIN project ON project.id = project_grant.project_id"
        " JOIN programme ON programme.id = project.programme_id"
        " WHERE project_grant.id = published_grant.grant_id)"
    )
    with op.batch_alter_table("published_grant") as batch_op:
        batch_op.alter_column(
            "dispositif_aide", existing_type=sa.String(length=300), nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("published_grant") as batch_op:
        batch_op.drop_column("dispositif_aide")
