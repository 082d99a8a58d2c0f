"""issue 24 R-DOC-1: the documents a programme requires, as programme data

Every programme row gets the list FITN7 axe 3 asks for (the call's text: délibération, quotes
above 5,000 €, a public body's attestation, the signed convention, the final report and the
statement of expenses), written out here so that this migration never changes with the seed.

Revision ID: c922c1a4c3bd
Revises: eb214f211f64
Create Date: 2026-12-05 14:50:00.000000+00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "c922c1a4c3bd"
down_revision: str | None = "eb214f211f64"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REQUIRED_DOCUMENTS: list[dict[str, Any]] = [
    {
        "code": "deliberation",
        "label": "Délibération ou lettre de l'exécutif",
        "owner": "project",
        "step": "submission",
        "strands": None,
        "candidate_kinds": None,
        "per_line_above_cents": None,
        "allowed_types": [
            "application/pdf",
            "image/png",
            "image/jpeg",
            "application/vnd.oasis.opendocument.text",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ],
        "max_bytes": 20971520,
    },
    {
        "code": "quote",
        "label": "Devis",
        "owner": "project",
        "step": "submission",
        "strands": None,
        "candidate_kinds": None,
        "per_line_above_cents": 500000,
        "allowed_types": [
            "application/pdf",
            "image/png",
            "image/jpeg",
            "application/vnd.oasis.opendocument.text",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.oasis.opendocument.spreadsheet",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "text/csv",
        ],
        "max_bytes": 20971520,
    },
    {
        "code": "attestation",
        "label": "Attestation de l'organisme public",
        "owner": "candidate",
        "step": "submission",
        "strands": None,
        "candidate_kinds": ["public_body"],
        "per_line_above_cents": None,
        "allowed_types": ["application/pdf", "image/png", "image/jpeg"],
        "max_bytes": 10485760,
    },
    {
        "code": "signed_convention",
        "label": "Convention signée",
        "owner": "project",
        "step": "convention",
        "strands": None,
        "candidate_kinds": None,
        "per_line_above_cents": None,
        "allowed_types": ["application/pdf"],
        "max_bytes": 20971520,
    },
    {
        "code": "final_report",
        "label": "Rapport final",
        "owner": "project",
        "step": "final_report",
        "strands": None,
        "candidate_kinds": None,
        "per_line_above_cents": None,
        "allowed_types": [
            "application/pdf",
            "application/vnd.oasis.opendocument.text",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ],
        "max_bytes": 20971520,
    },
    {
        "code": "expense_statement",
        "label": "État récapitulatif des dépenses",
        "owner": "project",
        "step": "final_report",
        "strands": None,
        "candidate_kinds": None,
        "per_line_above_cents": None,
        "allowed_types": [
            "application/pdf",
            "application/vnd.oasis.opendocument.spreadsheet",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "text/csv",
        ],
        "max_bytes": 20971520,
    },
]


def upgrade() -> None:
    with op.batch_alter_table("programme") as batch_op:
        batch_op.add_column(sa.Column("required_documents", sa.JSON(), nullable=True))
    programme = sa.table("programme", sa.column("required_documents", sa.JSON()))
    op.execute(programme.update().values(required_documents=REQUIRED_DOCUMENTS))
    with op.batch_alter_table("programme") as batch_op:
        batch_op.alter_column("required_documents", existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("programme") as batch_op:
        batch_op.drop_column("required_documents")
