"""Issue 28: the dashboards' figures kept current by the writes (app.stats.counters).

`stats_counter` holds each figure the dashboards add up, per programme and département
(R-PROG-2: read per programme or added up across): one row per (figure, key), e.g. ("status",
"submitted"), ("granted_kind", "commune"), ("commitments", "2021-03"). `stats_beneficiary`
counts the funded grants of each (candidate, programme): the beneficiaries are its rows with a
positive count. `stats_project` is what each dossier contributes now (its dimensions and
amounts as last counted): a write that touches a dossier takes the old contribution out of the
counters and puts the new one in, in the write's own transaction. Written only by
app.stats.counters.
"""

import uuid

from sqlalchemy import BigInteger, Column, Integer
from sqlalchemy.types import Uuid
from sqlmodel import Field, SQLModel

from app.programme.models import STRAND_CODE_LENGTH


class StatsCounter(SQLModel, table=True):
    """One figure of one département under one programme: `n` a count (or the agents/users
    reached), `cents` an amount. Changed only by `n = n + :d` upserts, so concurrent writers
    add up."""

    __tablename__ = "stats_counter"

    # R-PROG-2: first in the key, so that one programme's figures are one index range.
    programme_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    departement: str = Field(max_length=3, primary_key=True)
    figure: str = Field(max_length=20, primary_key=True)
    key: str = Field(max_length=40, primary_key=True)
    n: int = Field(default=0, sa_type=BigInteger)
    cents: int = Field(default=0, sa_type=BigInteger)


class StatsBeneficiary(SQLModel, table=True):
    """Funded grants (net amount > 0, §5) of one candidate under one programme, per
    département: a beneficiary while `grants` > 0."""

    __tablename__ = "stats_beneficiary"

    departement: str = Field(max_length=3, primary_key=True)
    candidate_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    programme_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    grants: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))


class StatsProject(SQLModel, table=True):
    """What one dossier contributes to the counters, as last counted (no foreign key: a
    contribution outlives nothing, dossiers are never deleted)."""

    __tablename__ = "stats_project"

    project_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    departement: str = Field(max_length=3)
    status: str = Field(max_length=20)
    strand: str = Field(max_length=STRAND_CODE_LENGTH)
    kind: str = Field(max_length=40)
    candidate_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    programme_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    # UTC month of the submission (NULL: a draft, which requests nothing yet)
    submitted_month: str | None = Field(default=None, max_length=7)
    requested_cents: int = Field(default=0, sa_type=BigInteger)
    # UTC month of the grant's decision (NULL: no grant)
    committed_month: str | None = Field(default=None, max_length=7)
    net_cents: int = Field(default=0, sa_type=BigInteger)
    carried_out: bool = Field(default=False)  # a grant not cancelled
    agents_impacted: int = Field(default=0)
    users_impacted: int = Field(default=0)
