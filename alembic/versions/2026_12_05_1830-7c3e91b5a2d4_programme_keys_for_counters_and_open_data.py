"""R-PROG-2: the dashboards' counters and the published rows belong to a programme

stats_counter gains `programme_id`, first in its key (the dashboards read one programme's
figures, or add every programme's up): it is rebuilt from stats_project (which already names
each dossier's programme) and the payments, with the definitions of the issue-28 migration
(DOMAIN.md §5, months in UTC) written out here so that this migration never changes with the
code. published_grant gains `programme_id` (the dossier's), filled from its grant's dossier,
and an index for one programme's export in its order. The downgrade adds the counters of every
programme up again and drops the published rows' programme.

Revision ID: 7c3e91b5a2d4
Revises: 8c4d2a6f1e35
Create Date: 2026-12-06 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "7c3e91b5a2d4"
down_revision: str | None = "8c4d2a6f1e35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _paid_month() -> str:
    if op.get_bind().dialect.name == "postgresql":
        return "to_char(pay.paid_on, 'YYYY-MM')"
    return "strftime('%Y-%m', pay.paid_on)"


# Every figure per (programme, département), from the dossiers' contributions and the payments.
COUNTERS = """
INSERT INTO stats_counter (programme_id, departement, figure, key, n, cents)
SELECT programme_id, departement, 'status', status, COUNT(*), 0 FROM stats_project
 GROUP BY programme_id, departement, status
UNION ALL
SELECT programme_id, departement, 'strand', strand, COUNT(*),
       SUM(CASE WHEN submitted_month IS NOT NULL THEN requested_cents ELSE 0 END)
  FROM stats_project GROUP BY programme_id, departement, strand
UNION ALL
SELECT programme_id, departement, 'kind', kind, COUNT(*), SUM(requested_cents) FROM stats_project
 WHERE submitted_month IS NOT NULL GROUP BY programme_id, departement, kind
UNION ALL
SELECT programme_id, departement, 'submissions', submitted_month, COUNT(*), 0 FROM stats_project
 WHERE submitted_month IS NOT NULL GROUP BY programme_id, departement, submitted_month
UNION ALL
SELECT programme_id, departement, 'granted_strand', strand,
       SUM(CASE WHEN net_cents > 0 THEN 1 ELSE 0 END), SUM(net_cents)
  FROM stats_project WHERE committed_month IS NOT NULL
 GROUP BY programme_id, departement, strand
UNION ALL
SELECT programme_id, departement, 'granted_kind', kind,
       SUM(CASE WHEN net_cents > 0 THEN 1 ELSE 0 END), SUM(net_cents)
  FROM stats_project WHERE committed_month IS NOT NULL
 GROUP BY programme_id, departement, kind
UNION ALL
SELECT programme_id, departement, 'commitments', committed_month,
       SUM(CASE WHEN net_cents > 0 THEN 1 ELSE 0 END), SUM(net_cents)
  FROM stats_project WHERE committed_month IS NOT NULL
 GROUP BY programme_id, departement, committed_month
UNION ALL
SELECT programme_id, departement, 'impact', 'agents',
       SUM(CASE WHEN carried_out THEN agents_impacted ELSE 0 END), 0
  FROM stats_project WHERE committed_month IS NOT NULL GROUP BY programme_id, departement
UNION ALL
SELECT programme_id, departement, 'impact', 'users',
       SUM(CASE WHEN carried_out THEN users_impacted ELSE 0 END), 0
  FROM stats_project WHERE committed_month IS NOT NULL GROUP BY programme_id, departement
UNION ALL
SELECT p.programme_id, p.departement, 'payments', {paid_month}, COUNT(*), SUM(pay.amount_cents)
  FROM payment pay JOIN project p ON p.id = pay.project_id
 GROUP BY p.programme_id, p.departement, {paid_month}
"""


def _counter_table(with_programme: bool) -> None:
    key = ["departement", "figure", "key"]
    columns = [
        sa.Column("departement", _text(3), nullable=False),
        sa.Column("figure", _text(20), nullable=False),
        sa.Column("key", _text(40), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("cents", sa.BigInteger(), nullable=False),
    ]
    if with_programme:
        columns.insert(0, sa.Column("programme_id", sa.Uuid(), nullable=False))
        key.insert(0, "programme_id")
    op.create_table(
        "stats_counter", *columns, sa.PrimaryKeyConstraint(*key, name=op.f("pk_stats_counter"))
    )


def upgrade() -> None:
    op.drop_table("stats_counter")
    _counter_table(with_programme=True)
    op.execute(COUNTERS.format(paid_month=_paid_month()))
    op.execute("DELETE FROM stats_counter WHERE n = 0 AND cents = 0")

    with op.batch_alter_table("published_grant") as batch_op:
        batch_op.add_column(sa.Column("programme_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE published_grant SET programme_id = (SELECT p.programme_id FROM project_grant g "
        "JOIN project p ON p.id = g.project_id WHERE g.id = published_grant.grant_id)"
    )
    with op.batch_alter_table("published_grant") as batch_op:
        batch_op.alter_column("programme_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_published_grant_programme_id_programme"),
            "programme",
            ["programme_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch_op.create_index(
            "ix_published_grant_programme_signed",
            ["programme_id", "signed_on", "grant_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("published_grant") as batch_op:
        batch_op.drop_index("ix_published_grant_programme_signed")
        batch_op.drop_constraint(
            batch_op.f("fk_published_grant_programme_id_programme"), type_="foreignkey"
        )
        batch_op.drop_column("programme_id")

    bind = op.get_bind()
    sums = bind.execute(
        sa.text(
            "SELECT departement, figure, key, SUM(n), SUM(cents) FROM stats_counter "
            "GROUP BY departement, figure, key"
        )
    ).all()  # a few thousand rows at most: every figure of every département
    op.drop_table("stats_counter")
    _counter_table(with_programme=False)
    if sums:
        bind.execute(
            sa.text(
                "INSERT INTO stats_counter (departement, figure, key, n, cents) "
                "VALUES (:departement, :figure, :key, :n, :cents)"
            ),
            [
                {"departement": d, "figure": f, "key": k, "n": int(n), "cents": int(c)}
                for d, f, k, n, c in sums
            ],
        )
