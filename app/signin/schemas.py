"""API shapes of the sign-in (R-AUTH-2)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from app.auth.principal import Role
from app.core.pagination import Page
from app.core.schemas import InputModel, ReadModel
from app.reference.departements import DEPARTEMENT_PATTERN

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
SIRET = r"^[0-9]{14}$"
SIREN = r"^[0-9]{9}$"
DOMAIN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"


class TokenExchangeRequest(InputModel):
    """RFC 8693 : un jeton d'identité ProConnect (obtenu par le front-end) contre un jeton du
    service."""

    grant_type: Literal["urn:ietf:params:oauth:grant-type:token-exchange"]
    subject_token: str = Field(min_length=1, max_length=8192, pattern=r"^[A-Za-z0-9_.=-]+$")
    subject_token_type: Literal["urn:ietf:params:oauth:token-type:id_token"]
    requested_token_type: Literal["urn:ietf:params:oauth:token-type:access_token"] | None = None


class CodeExchangeRequest(InputModel):
    """Le code à usage unique remis au front-end par /auth/proconnect/callback."""

    grant_type: Literal["authorization_code"]
    code: str = Field(min_length=43, max_length=43, pattern=r"^[A-Za-z0-9_-]{43}$")


TokenRequest = Annotated[
    TokenExchangeRequest | CodeExchangeRequest, Field(discriminator="grant_type")
]


class TokenResponse(ReadModel):
    """RFC 8693 §2.2.1, plus le rôle et le périmètre décidés (R-AUTH-2)."""

    access_token: str = Field(max_length=8192)
    issued_token_type: Literal["urn:ietf:params:oauth:token-type:access_token"] = (
        "urn:ietf:params:oauth:token-type:access_token"
    )
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(ge=1, le=3600)
    scope: str = Field(max_length=100, description="role:<rôle> et son périmètre.")
    role: Role
    departement: str | None = Field(default=None, max_length=3)
    siren: str | None = Field(default=None, max_length=9)
    mapping_rule: str = Field(max_length=100, description="La règle qui a donné le rôle.")


class _RuleBase(InputModel):
    note: str | None = Field(default=None, max_length=500)


class NationalSiretRule(_RuleBase):
    """Agents DINUM ou ANCT : le SIRET de leur service."""

    kind: Literal["national_siret"]
    role: Literal["dinum", "anct"]
    value: str = Field(pattern=SIRET, description="SIRET (14 chiffres).")


class NationalSirenRule(_RuleBase):
    """Agents DINUM ou ANCT : le SIREN de leur organisation."""

    kind: Literal["national_siren"]
    role: Literal["dinum", "anct"]
    value: str = Field(pattern=SIREN, description="SIREN (9 chiffres).")


class PrefectSiretRule(_RuleBase):
    """Préfet d'un département : un SIRET de préfecture (en plus de celui de l'enveloppe)."""

    kind: Literal["prefect_siret"]
    departement: str = Field(pattern=DEPARTEMENT_PATTERN)
    value: str = Field(pattern=SIRET, description="SIRET (14 chiffres).")


class PrefectEmailDomainRule(_RuleBase):
    """Préfet d'un département par le domaine de son adresse (SIRET peu fiables)."""

    kind: Literal["prefect_email_domain"]
    departement: str = Field(pattern=DEPARTEMENT_PATTERN)
    value: str = Field(
        max_length=253, pattern=DOMAIN, description="Domaine, en minuscules (ex. 13.gouv.fr)."
    )


MappingRuleCreate = Annotated[
    NationalSiretRule | NationalSirenRule | PrefectSiretRule | PrefectEmailDomainRule,
    Field(discriminator="kind"),
]


class MappingRuleRead(ReadModel):
    id: uuid.UUID
    role: Literal["dinum", "anct", "prefect"]
    match: Literal["siret", "siren", "email_domain"]
    value: str = Field(max_length=255)
    departement: str | None = Field(default=None, max_length=3)
    note: str | None = Field(default=None, max_length=500)
    created_by: str = Field(max_length=255)
    created_at: datetime
    updated_at: datetime


class MappingRuleList(Page[MappingRuleRead]):
    """Les règles de correspondance (R-AUTH-2)."""


class LogoutRequest(InputModel):
    """Le jeton d'identité ProConnect de la session, que ProConnect demande à la déconnexion."""

    # Issue 23: bounded so that the end-session URL it goes into stays within its own bound
    # (LogoutResponse, 4096): a JWS or JWE in compact form is base64url without padding, so
    # no `=` (urlencode would triple it); 2048 characters hold a ProConnect ID token.
    id_token_hint: str | None = Field(
        default=None, min_length=1, max_length=2048, pattern=r"^[A-Za-z0-9_.-]+$"
    )


class LogoutResponse(ReadModel):
    end_session_url: str = Field(
        max_length=4096, description="L'adresse de déconnexion ProConnect où envoyer l'agent."
    )
