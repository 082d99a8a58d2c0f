"""issue 28: ix_project_waiting, the waiting dossiers by programme and département (R-COM-1)

A partial index over the dossiers `submitted` or `in_review` only (the waiting ones of
R-COM-1), on (programme_id, departement, submitted_at): `committees.due.committee_status`
reads them alone, index-only, instead of every submitted dossier. No data.

Revision ID: 5e1c7a9b2d40
Revises: 5e1a7c0d2b94
Create Date: 2026-12-06 12:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1c7a9b2d40"
down_revision: str | None = "5e1a7c0d2b94"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = sa.text("status IN ('submitted', 'in_review')")


def upgrade() -> None:
    op.create_index(
        "ix_project_waiting",
        "project",
        ["programme_id", "departement", "submitted_at"],
        postgresql_where=WAITING,
        sqlite_where=WAITING,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_project_waiting", table_name="project", postgresql_where=WAITING, sqlite_where=WAITING
    )
