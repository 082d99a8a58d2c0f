"""signin (R-AUTH-2): ProConnect mapping rules managed by DINUM, the server-side flow's
pending logins (state, nonce, PKCE verifier) and one-time codes (hashed, single use), in the
database so that several instances share them

Revision ID: ee2350cb7c10
Revises: 9dd5b51153ff
Create Date: 2026-11-27 04:26:53.331929+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.core.types

revision: str = "ee2350cb7c10"
down_revision: str | None = "9dd5b51153ff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signin_login_state",
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("nonce", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("code_verifier", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("expires_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state", name=op.f("pk_signin_login_state")),
    )
    with op.batch_alter_table("signin_login_state", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signin_login_state_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "signin_mapping_rule",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("match", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("departement", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(role = 'prefect') = (departement IS NOT NULL)",
            name=op.f("ck_signin_mapping_rule_prefect_has_departement"),
        ),
        sa.CheckConstraint(
            "match IN ('siret', 'siren', 'email_domain')",
            name=op.f("ck_signin_mapping_rule_mapping_match"),
        ),
        sa.CheckConstraint(
            "role IN ('dinum', 'anct', 'prefect')", name=op.f("ck_signin_mapping_rule_mapping_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signin_mapping_rule")),
        sa.UniqueConstraint("role", "match", "value", name="uq_signin_mapping_rule"),
    )
    with op.batch_alter_table("signin_mapping_rule", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signin_mapping_rule_updated_at"), ["updated_at"], unique=False
        )

    op.create_table(
        "signin_one_time_code",
        sa.Column("code_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("identity", sa.JSON(), nullable=False),
        sa.Column("expires_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_signin_one_time_code")),
    )
    with op.batch_alter_table("signin_one_time_code", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signin_one_time_code_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("signin_one_time_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signin_one_time_code_expires_at"))

    op.drop_table("signin_one_time_code")
    with op.batch_alter_table("signin_mapping_rule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signin_mapping_rule_updated_at"))

    op.drop_table("signin_mapping_rule")
    with op.batch_alter_table("signin_login_state", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signin_login_state_expires_at"))

    op.drop_table("signin_login_state")
