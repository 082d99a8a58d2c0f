"""issue 28: the dashboards' counters, kept by the writes (app.stats.counters)

Creates stats_project (what each dossier contributes as last counted), stats_counter (each
figure per département) and stats_beneficiary (funded grants per candidate and programme), and
fills them from the existing dossiers, grants and payments, with the definitions of DOMAIN.md
§5 written out here (net amount = granted − released; months in UTC) so that this migration
never changes with the code.

Revision ID: d9fd9e8ebff3
Revises: b7510a7843a2
Create Date: 2026-12-06 10:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "d9fd9e8ebff3"
down_revision: str | None = "b7510a7843a2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _month(column: str, *, timestamp: bool) -> str:
    """'YYYY-MM' of a column (a UTC timestamp, or a date), NULL for NULL."""
    if op.get_bind().dialect.name == "postgresql":
        value = f"({column}) AT TIME ZONE 'UTC'" if timestamp else column
        return f"to_char({value}, 'YYYY-MM')"
    return f"strftime('%Y-%m', {column})"


COUNTERS = """
INSERT INTO stats_counter (departement, figure, key, n, cents)
SELECT departement, 'status', status, COUNT(*), 0 FROM stats_project
 GROUP BY departement, status
UNION ALL
SELECT departement, 'strand', strand, COUNT(*),
       SUM(CASE WHEN submitted_month IS NOT NULL THEN requested_cents ELSE 0 END)
  FROM stats_project GROUP BY departement, strand
UNION ALL
SELECT departement, 'kind', kind, COUNT(*), SUM(requested_cents) FROM stats_project
 WHERE submitted_month IS NOT NULL GROUP BY departement, kind
UNION ALL
SELECT departement, 'submissions', submitted_month, COUNT(*), 0 FROM stats_project
 WHERE submitted_month IS NOT NULL GROUP BY departement, submitted_month
UNION ALL
SELECT departement, 'granted_strand', strand, SUM(CASE WHEN net_cents > 0 THEN 1 ELSE 0 END),
       SUM(net_cents)
  FROM stats_project WHERE committed_month IS NOT NULL GROUP BY departement, strand
UNION ALL
SELECT departement, 'granted_kind', kind, SUM(CASE WHEN net_cents > 0 THEN 1 ELSE 0 END),
       SUM(net_cents)
  FROM stats_project WHERE committed_month IS NOT NULL GROUP BY departement, kind
UNION ALL
SELECT departement, 'commitments', committed_month,
       SUM(CASE WHEN net_cents > 0 THEN 1 ELSE 0 END), SUM(net_cents)
  FROM stats_project WHERE committed_month IS NOT NULL GROUP BY departement, committed_month
UNION ALL
SELECT departement, 'impact', 'agents', SUM(CASE WHEN carried_out THEN agents_impacted ELSE 0 END),
       0
  FROM stats_project WHERE committed_month IS NOT NULL GROUP BY departement
UNION ALL
SELECT departement, 'impact', 'users', SUM(CASE WHEN carried_out THEN users_impacted ELSE 0 END),
       0
  FROM stats_project WHERE committed_month IS NOT NULL GROUP BY departement
UNION ALL
SELECT p.departement, 'payments', {paid_month}, COUNT(*), SUM(pay.amount_cents)
  FROM payment pay JOIN project p ON p.id = pay.project_id
 GROUP BY p.departement, {paid_month}
"""


def upgrade() -> None:
    op.create_table(
        "stats_counter",
        sa.Column("departement", _text(3), nullable=False),
        sa.Column("figure", _text(20), nullable=False),
        sa.Column("key", _text(40), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("departement", "figure", "key", name=op.f("pk_stats_counter")),
    )
    op.create_table(
        "stats_beneficiary",
        sa.Column("departement", _text(3), nullable=False),
        sa.Column("candidate_id", sa.Uuid(), nullable=False),
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("grants", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "departement", "candidate_id", "programme_id", name=op.f("pk_stats_beneficiary")
        ),
    )
    op.create_table(
        "stats_project",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("departement", _text(3), nullable=False),
        sa.Column("status", _text(20), nullable=False),
        sa.Column("strand", _text(2), nullable=False),
        sa.Column("kind", _text(40), nullable=False),
        sa.Column("candidate_id", sa.Uuid(), nullable=False),
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("submitted_month", _text(7), nullable=True),
        sa.Column("requested_cents", sa.BigInteger(), nullable=False),
        sa.Column("committed_month", _text(7), nullable=True),
        sa.Column("net_cents", sa.BigInteger(), nullable=False),
        sa.Column("carried_out", sa.Boolean(), nullable=False),
        sa.Column("agents_impacted", sa.Integer(), nullable=False),
        sa.Column("users_impacted", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_stats_project")),
    )
    submitted = _month("p.submitted_at", timestamp=True)
    committed = _month("g.committed_at", timestamp=True)
    op.execute(
        "INSERT INTO stats_project (project_id, departement, status, strand, kind, candidate_id, "
        "programme_id, submitted_month, requested_cents, committed_month, net_cents, "
        "carried_out, agents_impacted, users_impacted) "
        f"SELECT p.id, p.departement, p.status, p.strand, c.kind, p.candidate_id, "
        f"p.programme_id, {submitted}, p.requested_cents, {committed}, "
        "COALESCE(g.amount_cents - g.released_cents, 0), "
        "(g.committed_at IS NOT NULL AND g.status <> 'cancelled'), "
        "p.agents_impacted, p.users_impacted "
        "FROM project p JOIN candidate c ON c.id = p.candidate_id "
        "LEFT JOIN project_grant g ON g.project_id = p.id"
    )
    op.execute(COUNTERS.format(paid_month=_month("pay.paid_on", timestamp=False)))
    op.execute("DELETE FROM stats_counter WHERE n = 0 AND cents = 0")
    op.execute(
        "INSERT INTO stats_beneficiary (departement, candidate_id, programme_id, grants) "
        "SELECT departement, candidate_id, programme_id, COUNT(*) FROM stats_project "
        "WHERE committed_month IS NOT NULL AND net_cents > 0 "
        "GROUP BY departement, candidate_id, programme_id"
    )


def downgrade() -> None:
    op.drop_table("stats_project")
    op.drop_table("stats_beneficiary")
    op.drop_table("stats_counter")
