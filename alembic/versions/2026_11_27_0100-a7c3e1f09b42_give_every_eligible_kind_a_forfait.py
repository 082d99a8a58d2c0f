"""give every eligible kind a forfait (R-CAP-3)

The default schedule covered communes, régions, départements and communautés de communes or
d'agglomération only: a métropole, a communauté urbaine, a syndicat, a collectivité d'outre-mer
or a public body got no forfait, so no 3a limit at all. Schedules already stored (the seeded
programme's and those prefects set) get a last line of 20 000 € for the kinds they leave out.

Revision ID: a7c3e1f09b42
Revises: fd2f47c41a3d
Create Date: 2026-11-27 01:00:00+00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "a7c3e1f09b42"
down_revision: str | None = "b7d1e4a9c2f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LABEL = "Autres catégories éligibles (R-CAP-3)"
ELIGIBLE_KINDS = (
    "commune",
    "departement",
    "region",
    "collectivite_outre_mer",
    "epci",
    "syndicat",
    "public_body",
)
AMOUNT_CENTS = 2_000_000

programme = sa.table("programme", sa.column("id", sa.Uuid()), sa.column("forfaits", sa.JSON()))
departement_forfaits = sa.table(
    "departement_forfaits", sa.column("id", sa.Uuid()), sa.column("tiers", sa.JSON())
)


def _completed(tiers: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The schedule with a last line for the kinds no unconditional line reaches, or None."""
    covered = {
        kind
        for tier in tiers
        if not tier.get("epci_types") and tier.get("population_below") is None
        for kind in tier["kinds"]
    }
    missing = [kind for kind in ELIGIBLE_KINDS if kind not in covered]
    if not missing:
        return None
    line = {
        "label": LABEL,
        "kinds": missing,
        "epci_types": None,
        "population_below": None,
        "amount_cents": AMOUNT_CENTS,
    }
    return [*tiers, line]


def _rewrite(table: sa.TableClause, column: str, change: Any) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(table.c.id, table.c[column])).all()
    for row_id, tiers in rows:
        new = change(list(tiers or []))
        if new is not None:
            bind.execute(table.update().where(table.c.id == row_id).values({column: new}))


def upgrade() -> None:
    _rewrite(programme, "forfaits", _completed)
    _rewrite(departement_forfaits, "tiers", _completed)


def _without_added_line(tiers: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    kept = [tier for tier in tiers if tier.get("label") != LABEL]
    return kept if len(kept) != len(tiers) else None


def downgrade() -> None:
    _rewrite(programme, "forfaits", _without_added_line)
    _rewrite(departement_forfaits, "tiers", _without_added_line)
