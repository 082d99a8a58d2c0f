"""grant frozen terms (R-PAY-4)

A grant keeps, for life, the terms in force when its committee closed: eligible cost, aid
rate, forfait and its tier, payment caps (R-PAY-1, R-PAY-2), the programme's version and the
grid version of its strand.

Existing grants are carried over as follows: the eligible cost and the forfait from the
accepted agenda item of their committee (recorded at its close), else the eligible cost is
the granted amount (aid rate 1.00); the aid rate, the payment caps and the programme's
version from the programme as it stands at migration time; the grid version from the latest
grid of the dossier's strand; the forfait's tier is unknown (NULL).

Revision ID: 7c1e4f0a9b23
Revises: a7c3e91f42b8
Create Date: 2026-12-05 11:50:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c1e4f0a9b23"
down_revision: str | None = "a7c3e91f42b8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REQUIRED = (
    ("eligible_cost_cents", sa.BigInteger()),
    ("aid_rate_bps", sa.Integer()),
    ("advance_cap_bps", sa.Integer()),
    ("pre_final_payment_cap_bps", sa.Integer()),
    ("programme_version", sa.Integer()),
)

_ACCEPTED_ITEM = (
    "(SELECT MAX(i.{column}) FROM committee_agenda_item i "
    "WHERE i.project_id = project_grant.project_id AND i.outcome = 'accepted')"
)
_PROGRAMME = (
    "(SELECT p.{column} FROM programme p JOIN envelope e ON e.programme_id = p.id "
    "WHERE e.id = project_grant.envelope_id)"
)


def upgrade() -> None:
    with op.batch_alter_table("project_grant", schema=None) as batch_op:
        for name, type_ in REQUIRED:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        batch_op.add_column(sa.Column("forfait_cents", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("forfait_tier", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("grid_version", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE project_grant SET "
        f"eligible_cost_cents = COALESCE({_ACCEPTED_ITEM.format(column='eligible_cost_cents')}, "
        "amount_cents), "
        f"forfait_cents = {_ACCEPTED_ITEM.format(column='forfait_cents')}, "
        f"aid_rate_bps = {_PROGRAMME.format(column='funding_cap_rate_bps')}, "
        f"advance_cap_bps = {_PROGRAMME.format(column='advance_cap_bps')}, "
        f"pre_final_payment_cap_bps = {_PROGRAMME.format(column='pre_final_payment_cap_bps')}, "
        f"programme_version = {_PROGRAMME.format(column='version')}, "
        "grid_version = (SELECT MAX(g.version) FROM scoring_grid g JOIN project pr "
        "ON g.programme_id = pr.programme_id AND g.strand = pr.strand "
        "WHERE pr.id = project_grant.project_id)"
    )
    with op.batch_alter_table("project_grant", schema=None) as batch_op:
        for name, type_ in REQUIRED:
            batch_op.alter_column(name, existing_type=type_, nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("project_grant", schema=None) as batch_op:
        for name in ("grid_version", "forfait_tier", "forfait_cents"):
            batch_op.drop_column(name)
        for name, _ in reversed(REQUIRED):
            batch_op.drop_column(name)
