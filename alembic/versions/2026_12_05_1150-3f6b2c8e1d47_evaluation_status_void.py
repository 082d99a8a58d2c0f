"""evaluation status: `void` once its dossier changed strand (R-EVAL-5)

Schema: `evaluation.status` (`active` or `void`, default `active`: every existing evaluation
stays active), and the one-per-evaluator UNIQUE (R-EVAL-2) becomes a unique index over the
active evaluations only, so that an evaluator whose evaluation was voided evaluates the dossier
anew on its new strand's grid. A downgrade deletes the void evaluations (the former schema has
no place for them beside a new one).

Revision ID: 3f6b2c8e1d47
Revises: d206b542dfb0
Create Date: 2026-12-05 11:50:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "3f6b2c8e1d47"
down_revision: str | None = "d206b542dfb0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("status = 'active'")


def upgrade() -> None:
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "status",
                sqlmodel.sql.sqltypes.AutoString(length=10),
                server_default="active",
                nullable=False,
            )
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_evaluation_status_known"), "status IN ('active', 'void')"
        )
        batch_op.drop_constraint("uq_evaluation_evaluator", type_="unique")
        batch_op.create_index(
            "uq_evaluation_evaluator",
            ["project_id", "evaluator_subject"],
            unique=True,
            sqlite_where=ACTIVE,
            postgresql_where=ACTIVE,
        )


def downgrade() -> None:
    op.execute("DELETE FROM evaluation WHERE status = 'void'")
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.drop_index("uq_evaluation_evaluator", sqlite_where=ACTIVE, postgresql_where=ACTIVE)
        batch_op.create_unique_constraint(
            "uq_evaluation_evaluator", ["project_id", "evaluator_subject"]
        )
        batch_op.drop_constraint(batch_op.f("ck_evaluation_status_known"), type_="check")
        batch_op.drop_column("status")
