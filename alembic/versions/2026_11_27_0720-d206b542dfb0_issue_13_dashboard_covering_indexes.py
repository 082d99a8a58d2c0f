"""issue 13 dashboard covering indexes

The national dashboard reads the dossiers in two passes (grouped by status, strand and
candidate; the dossier of each grant). Both read a handful of narrow columns of a wide table:
these two indexes hold them, so each pass is an index-only scan (EXPLAIN in BENCHMARKS.md).

Revision ID: d206b542dfb0
Revises: 24917e3cf70c
Create Date: 2026-11-27 07:20:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "d206b542dfb0"
down_revision: str | None = "24917e3cf70c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.create_index(
            "ix_project_stats",
            [
                "departement",
                "status",
                "strand",
                "candidate_id",
                "submitted_at",
                "requested_cents",
                "programme_id",
            ],
            unique=False,
        )
        batch_op.create_index(
            "ix_project_grant_stats",
            [
                "id",
                "departement",
                "strand",
                "candidate_id",
                "agents_impacted",
                "users_impacted",
                "programme_id",
            ],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_index("ix_project_grant_stats")
        batch_op.drop_index("ix_project_stats")
