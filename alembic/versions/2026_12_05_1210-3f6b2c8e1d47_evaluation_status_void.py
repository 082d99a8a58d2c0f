"""evaluation status: `void` once its dossier changed strand (R-EVAL-5)

Schema: `evaluation.status` (`active` or `void`, default `active`: every existing evaluation
stays active), and the one-per-evaluator UNIQUE (R-EVAL-2) becomes a unique index over the
active evaluations only, so that an evaluator whose evaluation was voided evaluates the dossier
anew on its new strand's grid. Data: every dossier's means are recomputed over the unrounded
weighted totals, rounded once (R-EVAL-5; they were means of rounded totals). A downgrade deletes
the void evaluations (the former schema has no place for them beside a new one) and keeps the
means.

Revision ID: 3f6b2c8e1d47
Revises: 7c0e5a1f3b2d
Create Date: 2026-12-05 11:50:00.000000+00:00
"""

from collections import defaultdict
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "3f6b2c8e1d47"
down_revision: str | None = "7c0e5a1f3b2d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("status = 'active'")

evaluation = sa.table(
    "evaluation",
    sa.column("project_id", sa.Uuid()),
    sa.column("grid_id", sa.Uuid()),
    sa.column("advisory", sa.Boolean()),
    sa.column("recused", sa.Boolean()),
    sa.column("scores", sa.JSON()),
)
scoring_grid = sa.table(
    "scoring_grid", sa.column("id", sa.Uuid()), sa.column("criteria", sa.JSON())
)
project = sa.table(
    "project",
    sa.column("id", sa.Uuid()),
    sa.column("mean_score_centi", sa.Integer()),
    sa.column("advisory_mean_centi", sa.Integer()),
)


def _mean_centi(totals: list[Fraction]) -> int | None:
    """As app.evaluations.rules.mean_centi (copied: a migration never imports app code): the
    mean of the exact totals in hundredths, rounded half-up once (totals are ≥ 0)."""
    if not totals:
        return None
    return int(sum(totals, Fraction(0)) * 100 / len(totals) + Fraction(1, 2))


def _recompute_means() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            evaluation.c.project_id,
            evaluation.c.advisory,
            evaluation.c.scores,
            scoring_grid.c.criteria,
        )
        .join(scoring_grid, scoring_grid.c.id == evaluation.c.grid_id)
        .where(sa.not_(evaluation.c.recused))
    ).all()
    totals: dict[Any, dict[bool, list[Fraction]]] = defaultdict(lambda: {False: [], True: []})
    for project_id, advisory, scores, criteria in rows:
        weights = sum(int(c["weight"]) for c in criteria)
        points = sum(int(c["weight"]) * int(scores[c["code"]]) for c in criteria)
        totals[project_id][bool(advisory)].append(Fraction(points, weights))
    for project_id, by_kind in totals.items():
        bind.execute(
            project.update()
            .where(project.c.id == project_id)
            .values(
                mean_score_centi=_mean_centi(by_kind[False]),
                advisory_mean_centi=_mean_centi(by_kind[True]),
            )
        )


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
    _recompute_means()


def downgrade() -> None:
    op.execute("DELETE FROM evaluation WHERE status = 'void'")
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.drop_index("uq_evaluation_evaluator", sqlite_where=ACTIVE, postgresql_where=ACTIVE)
        batch_op.create_unique_constraint(
            "uq_evaluation_evaluator", ["project_id", "evaluator_subject"]
        )
        batch_op.drop_constraint(batch_op.f("ck_evaluation_status_known"), type_="check")
        batch_op.drop_column("status")
