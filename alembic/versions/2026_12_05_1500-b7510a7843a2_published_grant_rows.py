"""published grant rows (issue 28)

The open-data export's rows, one per grant with a signed convention, written with each change
from now on (app.opendata.publish); filled here from today's data by the computation the
export ran at read time: the grant, its dossier, envelope, candidate and convention, the
net amount (granted − released, DOMAIN.md §5) and the schedule's due dates (how many, the
first, the last). A row's stamp is the latest change of what it shows.

Revision ID: b7510a7843a2
Revises: c922c1a4c3bd
Create Date: 2026-12-05 14:42:27.109170+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.core.types

revision: str = "b7510a7843a2"
down_revision: str | None = "c922c1a4c3bd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_COLUMNS = (
    "grant_id, departement, prefecture_name, prefecture_siret, signed_on, decision_reference, "
    "beneficiary_name, beneficiary_siret, title, net_cents, due_count, first_due_on, "
    "last_due_on, strand, eligible_cost_cents, updated_at"
)
_JOINS = (
    "FROM project_grant AS g "
    "JOIN project AS p ON p.id = g.project_id "
    "JOIN envelope AS e ON e.id = g.envelope_id "
    "JOIN candidate AS k ON k.id = p.candidate_id "
    "JOIN convention AS c ON c.project_id = g.project_id"
)


def _fill(due_on: str, items: str, day: str, latest: str) -> str:
    """INSERT … SELECT of every grant with a convention; `due_on` reads an item's due date
    from the schedule's `items`, `day` makes a date of the first and last, `latest` is the
    greatest of the stamps."""
    due = f"FROM {items} AS item"
    stamps = "g.updated_at, c.created_at, p.updated_at, k.updated_at, e.updated_at"
    return (
        f"INSERT INTO published_grant ({_COLUMNS}) "
        "SELECT g.id, e.departement, e.prefecture_name, e.prefecture_siret, c.signed_on, "
        "g.reference, k.name, k.siret, p.title, g.amount_cents - g.released_cents, "
        f"(SELECT count({due_on}) {due}), "
        f"{day.format(f'(SELECT min({due_on}) {due})')}, "
        f"{day.format(f'(SELECT max({due_on}) {due})')}, "
        f"p.strand, g.eligible_cost_cents, {latest}({stamps}) {_JOINS}"
    )


# ISO dates order as text; SQLite stores dates as that text, PostgreSQL casts it.
_FILL_SQLITE = _fill("json_extract(item.value, '$.due_on')", "json_each(c.schedule)", "{}", "max")
_FILL_POSTGRESQL = _fill(
    "item ->> 'due_on'", "json_array_elements(c.schedule)", "CAST({} AS DATE)", "GREATEST"
)


def upgrade() -> None:
    op.create_table(
        "published_grant",
        sa.Column("grant_id", sa.Uuid(), nullable=False),
        sa.Column("departement", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("prefecture_name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("prefecture_siret", sqlmodel.sql.sqltypes.AutoString(length=14), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column(
            "decision_reference", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True
        ),
        sa.Column("beneficiary_name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("beneficiary_siret", sqlmodel.sql.sqltypes.AutoString(length=14), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("net_cents", sa.BigInteger(), nullable=False),
        sa.Column("due_count", sa.Integer(), nullable=False),
        sa.Column("first_due_on", sa.Date(), nullable=True),
        sa.Column("last_due_on", sa.Date(), nullable=True),
        sa.Column("strand", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("eligible_cost_cents", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["project_grant.id"],
            name=op.f("fk_published_grant_grant_id_project_grant"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("grant_id", name=op.f("pk_published_grant")),
    )
    with op.batch_alter_table("published_grant", schema=None) as batch_op:
        batch_op.create_index(
            "ix_published_grant_departement_signed",
            ["departement", "signed_on", "grant_id"],
            unique=False,
        )
        batch_op.create_index("ix_published_grant_signed", ["signed_on", "grant_id"], unique=False)
    op.execute(_FILL_SQLITE if op.get_bind().dialect.name == "sqlite" else _FILL_POSTGRESQL)


def downgrade() -> None:
    with op.batch_alter_table("published_grant", schema=None) as batch_op:
        batch_op.drop_index("ix_published_grant_signed")
        batch_op.drop_index("ix_published_grant_departement_signed")

    op.drop_table("published_grant")
