"""issue 27: an idempotent replay carries the first answer's ETag and Location

`idempotency_record.response_headers` keeps the headers a client follows (ETag, Location) as
the first answer sent them. Records kept from before have none (NULL): their replays say where
from the body, as before, and carry no ETag until they expire (24 h).

Revision ID: 3c8e5f2a9b71
Revises: 7c3d9e1f4a25
Create Date: 2026-12-06 12:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c8e5f2a9b71"
down_revision: str | None = "7c3d9e1f4a25"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("response_headers", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.drop_column("response_headers")
