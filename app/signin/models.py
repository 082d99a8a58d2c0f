"""Tables of the sign-in: mapping rules (managed by DINUM) and the server-side flow's state."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, utcnow


class MappingRule(SQLModel, table=True):
    """R-AUTH-2: one allowlist entry. `role` dinum/anct match by `siret` or `siren`; `prefect`
    by `siret` or `email_domain` (only where DINUM enables it), with its `departement`."""

    __tablename__ = "signin_mapping_rule"
    __table_args__ = (
        UniqueConstraint("role", "match", "value", name="uq_signin_mapping_rule"),
        CheckConstraint("role IN ('dinum', 'anct', 'prefect')", name="mapping_role"),
        CheckConstraint("match IN ('siret', 'siren', 'email_domain')", name="mapping_match"),
        CheckConstraint(
            "(role = 'prefect') = (departement IS NOT NULL)", name="prefect_has_departement"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    role: str = Field(max_length=10)
    match: str = Field(max_length=12)
    value: str = Field(max_length=255)
    departement: str | None = Field(default=None, max_length=3)
    note: str | None = Field(default=None, max_length=500)
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class LoginState(SQLModel, table=True):
    """A server-side authorization request in flight: `state` → PKCE verifier and nonce.
    In the database, so that the callback may reach another instance; single use."""

    __tablename__ = "signin_login_state"

    state: str = Field(primary_key=True, max_length=64)
    nonce: str = Field(max_length=64)
    code_verifier: str = Field(max_length=128)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


class OneTimeCode(SQLModel, table=True):
    """The code the callback hands the front-end (never a token in a URL): its SHA-256, the
    verified ProConnect identity, short-lived and single use."""

    __tablename__ = "signin_one_time_code"

    code_hash: str = Field(primary_key=True, max_length=64)
    identity: dict[str, Any] = Field(sa_type=JSON)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
