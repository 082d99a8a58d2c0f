"""The published rows of the open-data export (issue 28): one per grant with a signed convention.

Each row holds what the SCDL « subventions » export shows of one grant (DOMAIN.md §5), as the
domains' tables give it when the row is written: `app.opendata.publish` writes it in the same
transaction as every change of a shown field (the convention's signature, a payment, the
settlement, a cancellation, a new name of the beneficiary…), so that the export is one
indexed scan of this table instead of a join of five tables at read time. A grant whose net
amount falls to zero (cancelled before any payment) keeps its row, unpublished (`net_cents`
0): its `updated_at` still tells the export's validators that a row went away.
"""

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Index
from sqlalchemy.types import Uuid
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, utcnow
from app.programme.models import STRAND_CODE_LENGTH


class PublishedGrant(SQLModel, table=True):
    """One grant's SCDL facts, as published; exported when `net_cents` > 0 (§5)."""

    __tablename__ = "published_grant"
    # The export's order (convention date, then grant id), whole or for one département.
    __table_args__ = (
        Index("ix_published_grant_signed", "signed_on", "grant_id"),
        Index("ix_published_grant_departement_signed", "departement", "signed_on", "grant_id"),
        # R-PROG-2: one programme's export, in the same order.
        Index("ix_published_grant_programme_signed", "programme_id", "signed_on", "grant_id"),
    )

    grant_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("project_grant.id", ondelete="RESTRICT"), primary_key=True
        )
    )
    departement: str = Field(max_length=3)  # the envelope's
    # R-PROG-2: the dossier's programme (written with the row; a grant never changes programme)
    programme_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("programme.id", ondelete="RESTRICT"), nullable=False)
    )
    prefecture_name: str = Field(max_length=300)  # nomAttribuant
    prefecture_siret: str = Field(max_length=14)  # idAttribuant
    signed_on: date  # dateConvention
    decision_reference: str | None = Field(default=None, max_length=300)  # referenceDecision
    beneficiary_name: str = Field(max_length=300)  # nomBeneficiaire
    beneficiary_siret: str = Field(max_length=14)  # idBeneficiaire
    title: str = Field(max_length=200)  # objet (clipped when written out)
    net_cents: int = Field(sa_type=BigInteger)  # montant: granted − released (§5)
    # The convention schedule's due dates: how many, the first, the last
    # (conditionsVersement, datesPeriodeVersement).
    due_count: int
    first_due_on: date | None = None
    last_due_on: date | None = None
    strand: str = Field(max_length=STRAND_CODE_LENGTH)  # volet (JSON)
    dispositif_aide: str = Field(max_length=300)  # dispositifAide: the grant's programme's
    eligible_cost_cents: int = Field(sa_type=BigInteger)  # frozen at the decision (R-PAY-4)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
