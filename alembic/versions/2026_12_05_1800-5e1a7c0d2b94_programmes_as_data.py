"""issue 26 R-PROG-1: a programme is data (status, SCDL dispositif, eligible kinds, expense
categories, the rules of each strand); a strand's code may be longer than FITN7's two letters

An existing programme (FITN7 axe 3, the only one before) is published, keeps its version, and
gets what the code used to say about it: the seven eligible kinds (R-ELIG-1), its nine expense
categories with agents' equipment excluded (R-EXCL-1) and licences share-capped (R-EXCL-2), the
forfaits on strand 3a (R-CAP-3) and ANCT's advice on 3b (R-EVAL-3). Written out here so that
this migration never changes with the seed.

Revision ID: 5e1a7c0d2b94
Revises: d9fd9e8ebff3
Create Date: 2026-12-05 18:00:00.000000+00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "5e1a7c0d2b94"
down_revision: str | None = "d9fd9e8ebff3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DISPOSITIF = (
    "France Relance — Transformation numérique des collectivités territoriales (FITN7 axe 3)"
)
ELIGIBLE = [
    "commune",
    "departement",
    "region",
    "collectivite_outre_mer",
    "epci",
    "syndicat",
    "public_body",
]
CATEGORIES: list[dict[str, Any]] = [
    {"code": c, "label": label, "excluded": c == "equipment_agents", "share_capped": c == lic}
    for lic in ("software_licence",)
    for c, label in (
        ("study", "Études, cadrages, diagnostics"),
        ("consulting", "Accompagnement par des prestataires"),
        ("integration", "Intégration et déploiement de solutions existantes"),
        ("development", "Développement"),
        ("training", "Formation"),
        ("software_licence", "Licences logicielles"),
        ("hosting", "Hébergement"),
        ("equipment_agents", "Équipements informatiques des agents"),
        ("other", "Autres dépenses"),
    )
]
STRAND_TABLES = ("project", "scoring_grid", "stats_project", "published_grant")


def _strand_rules(strand: dict[str, Any]) -> dict[str, Any]:
    return {
        **strand,
        "description": strand.get("description"),
        "funding_cap_rate_bps": strand.get("funding_cap_rate_bps"),
        "forfaits": strand.get("forfaits", strand["code"] == "3a"),
        "advisors": strand.get("advisors", ["anct"] if strand["code"] == "3b" else []),
    }


def upgrade() -> None:
    with op.batch_alter_table("programme") as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=20), nullable=False, server_default="published")
        )
        batch_op.add_column(sa.Column("dispositif_aide", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("eligible_kinds", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("categories", sa.JSON(), nullable=True))
    programme = sa.table(
        "programme",
        sa.column("id", sa.Uuid()),
        sa.column("strands", sa.JSON()),
        sa.column("dispositif_aide", sa.String()),
        sa.column("eligible_kinds", sa.JSON()),
        sa.column("categories", sa.JSON()),
    )
    connection = op.get_bind()
    for row in connection.execute(sa.select(programme.c.id, programme.c.strands)).all():
        connection.execute(
            programme.update()
            .where(programme.c.id == row.id)
            .values(
                strands=[_strand_rules(s) for s in row.strands or []],
                dispositif_aide=DISPOSITIF,
                eligible_kinds=ELIGIBLE,
                categories=CATEGORIES,
            )
        )
    with op.batch_alter_table("programme") as batch_op:
        batch_op.alter_column("status", server_default=None, existing_type=sa.String(length=20))
        for name, kind in (
            ("dispositif_aide", sa.String(length=300)),
            ("eligible_kinds", sa.JSON()),
            ("categories", sa.JSON()),
        ):
            batch_op.alter_column(name, existing_type=kind, nullable=False)
        batch_op.create_check_constraint(
            "programme_status_known", "status IN ('draft', 'published', 'closed')"
        )
    for table in STRAND_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(
                "strand",
                existing_type=sa.String(length=2),
                type_=sa.String(length=20),
                existing_nullable=False,
            )


def downgrade() -> None:
    for table in STRAND_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(
                "strand",
                existing_type=sa.String(length=20),
                type_=sa.String(length=2),
                existing_nullable=False,
            )
    with op.batch_alter_table("programme") as batch_op:
        batch_op.drop_constraint("programme_status_known", type_="check")
        for name in ("categories", "eligible_kinds", "dispositif_aide", "status"):
            batch_op.drop_column(name)
