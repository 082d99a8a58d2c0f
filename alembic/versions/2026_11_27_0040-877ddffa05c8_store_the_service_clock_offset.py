"""store the service clock offset

R-ELIG-8: the offset of the service's clock from real time is fixed at a database's first start
(GUICHET_CLOCK_START, or zero) and kept in this one-row table. A database already in use
before this revision ran on real time: it is pinned to a zero offset here, so that a later
GUICHET_CLOCK_START cannot rewind time over its records.

Revision ID: 877ddffa05c8
Revises: fd2f47c41a3d
Create Date: 2026-11-27 00:40:56.373165+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.types

revision: str = "877ddffa05c8"
down_revision: str | None = "8e920251fd11"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offset_us", sa.BigInteger(), nullable=False),
        sa.Column("clock_start", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("fixed_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_service_clock_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_clock")),
    )
    op.execute(
        "INSERT INTO service_clock (id, offset_us, clock_start, fixed_at) "
        "SELECT 1, 0, NULL, CURRENT_TIMESTAMP WHERE EXISTS (SELECT 1 FROM programme)"
    )


def downgrade() -> None:
    op.drop_table("service_clock")
