"""R-AUTH-2: exchange a verified ProConnect identity for the service's own token; the mapping
rules DINUM manages; the server-side flow's state and one-time codes."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from app.audit.service import record
from app.auth.principal import Principal, Role
from app.budgets.models import Envelope
from app.candidates.models import Candidate
from app.core.config import Settings
from app.core.db import add_unique
from app.core.errors import Conflict
from app.core.pagination import PageParams, keyset_page, split_page
from app.core.security import ServiceKey, encode_access_token
from app.core.types import utcnow
from app.reference.catalogue import get_catalogue
from app.signin.errors import InvalidSigninCode, MappingRuleNotFound, SigninRefused
from app.signin.models import LoginState, MappingRule, OneTimeCode
from app.signin.rules import Facts, Granted, Identity, Refused, RuleRow, decide
from app.signin.schemas import (
    MappingRuleCreate,
    NationalSirenRule,
    NationalSiretRule,
    PrefectSiretRule,
    TokenResponse,
)

UNMAPPED = "unmapped"  # the audit's actor role of a refused sign-in


# -- mapping ---------------------------------------------------------------------------


async def gather_facts(session: AsyncSession, identity: Identity) -> Facts:
    """What the database and the reference data say about the identity's organisation."""
    rules = (await session.execute(select(MappingRule))).scalars().all()
    rows = [RuleRow(str(r.id), r.role, r.match, r.value, r.departement) for r in rules]
    envelope_departements: list[str] = []
    collectivite_name = None
    candidate_verification = candidate_name = None
    if identity.siret is not None:
        stmt = select(Envelope.departement).where(col(Envelope.prefecture_siret) == identity.siret)
        envelope_departements = list((await session.execute(stmt)).scalars().all())
    if identity.siren is not None:
        entry = get_catalogue().by_siren(identity.siren)  # R-REF-1
        collectivite_name = entry.name if entry is not None else None
        candidate = (
            await session.execute(select(Candidate).where(col(Candidate.siren) == identity.siren))
        ).scalar_one_or_none()
        if candidate is not None:
            candidate_verification = candidate.verification
            candidate_name = candidate.name
    return Facts(
        rules=rows,
        envelope_departements=envelope_departements,
        collectivite_name=collectivite_name,
        candidate_verification=candidate_verification,
        candidate_name=candidate_name,
    )


def audit_object_id(sub: str) -> str:
    """The audit's object id of a sign-in (64 characters at most): the agent's `sub`, or its
    SHA-256 when longer (the full `sub` is the event's actor)."""
    return sub if len(sub) <= 64 else hashlib.sha256(sub.encode("utf-8")).hexdigest()


def _agent(identity: Identity) -> Principal:
    """The audit's actor for a sign-in: the agent itself; `record(actor_role=…)` replaces this
    placeholder role (a refused agent has none)."""
    return Principal(subject=identity.sub[:255], role=Role.DINUM)


def _refusal_view(identity: Identity, refused: Refused) -> dict[str, Any]:
    return {
        "rule": refused.rule,
        "siret": identity.siret,
        "organization_label": identity.organization_label,
        "roles": list(identity.roles) if identity.roles is not None else None,
    }


async def record_refusal(
    sessionmaker: async_sessionmaker[AsyncSession],
    identity: Identity,
    refused: Refused,
    *,
    spent_code: str | None = None,
) -> None:
    """R-AUTH-2 / R-AUDIT-1: the refusal's event in its own transaction (the refused request
    rolls back); a one-time code that led to it is spent there too (single use)."""
    async with sessionmaker() as side, side.begin():
        if spent_code is not None:
            await side.execute(
                delete(OneTimeCode).where(col(OneTimeCode.code_hash) == _hash(spent_code))
            )
        await record(
            side,
            _agent(identity),
            object_type="signin",
            object_id=audit_object_id(identity.sub),
            departement=None,
            action="refused",
            before=None,
            after=_refusal_view(identity, refused),
            actor_role=UNMAPPED,
        )


async def exchange(
    session: AsyncSession,
    *,
    identity: Identity,
    settings: Settings,
    service_key: ServiceKey | None,
    sessionmaker: async_sessionmaker[AsyncSession],
    via: str,
    spent_code: str | None = None,
) -> TokenResponse:
    """R-AUTH-2: map the verified identity and issue the service's own short-lived token."""
    facts = await gather_facts(session, identity)
    decision = decide(identity, facts)
    if isinstance(decision, Refused):
        # The refused request rolls back: end its transaction now (on SQLite it holds the
        # write lock) and record the refusal in a transaction of its own.
        await session.rollback()
        await record_refusal(sessionmaker, identity, decision, spent_code=spent_code)
        label = identity.organization_label or "organisation inconnue"
        raise SigninRefused(
            f"{decision.reason} Règle appliquée : {decision.rule}. SIRET transmis : "
            f"{identity.siret or 'aucun'} ({label}). {decision.contact}",
            code="R-AUTH-2",
            rule=decision.rule,
            siret=identity.siret,
            organization_label=identity.organization_label,
            contact=decision.contact,
        )
    return await _issue(session, identity, decision, settings, service_key, via)


async def _issue(
    session: AsyncSession,
    identity: Identity,
    granted: Granted,
    settings: Settings,
    service_key: ServiceKey | None,
    via: str,
) -> TokenResponse:
    scope = f"role:{granted.role.value}"
    if granted.departement:
        scope += f" departement:{granted.departement}"
    if granted.siren:
        scope += f" siren:{granted.siren}"
    ttl = settings.access_token_ttl_seconds
    token = encode_access_token(
        settings,
        sub=identity.sub,
        role=granted.role.value,
        departement=granted.departement,
        siren=granted.siren,
        ttl_seconds=ttl,
        now=time.time(),
        extra={"scope": scope, "mapping_rule": granted.rule, "jti": str(uuid.uuid4())},
        service_key=service_key,
    )
    principal = Principal(
        subject=identity.sub,
        role=granted.role,
        departement=granted.departement,
        siren=granted.siren,
        mapping_rule=granted.rule,
    )
    await record(
        session,
        principal,
        object_type="signin",
        object_id=audit_object_id(identity.sub),
        departement=granted.departement,
        action="token_issued",
        before=None,
        after={
            "rule": granted.rule,
            "role": granted.role.value,
            "scope": scope,
            "siret": identity.siret,
            "organization_label": identity.organization_label,
            "via": via,
        },
    )
    return TokenResponse(
        access_token=token,
        expires_in=ttl,
        scope=scope,
        role=granted.role,
        departement=granted.departement,
        siren=granted.siren,
        mapping_rule=granted.rule,
    )


# -- mapping rules (DINUM) -------------------------------------------------------------------


def _rule_view(rule: MappingRule) -> dict[str, Any]:
    return {
        "role": rule.role,
        "match": rule.match,
        "value": rule.value,
        "departement": rule.departement,
        "note": rule.note,
    }


async def list_rules(
    session: AsyncSession, *, page: PageParams, updated_since: datetime | None = None
) -> tuple[list[MappingRule], str | None]:
    stmt = select(MappingRule)
    if updated_since is not None:  # R-SYNC-1
        stmt = stmt.where(col(MappingRule.updated_at) >= updated_since)
    stmt = keyset_page(stmt, MappingRule.created_at, MappingRule.id, page)
    rows = list((await session.execute(stmt)).scalars().all())
    return split_page(rows, page, lambda r: (r.created_at, r.id))


async def create_rule(
    session: AsyncSession, principal: Principal, *, body: MappingRuleCreate
) -> MappingRule:
    """R-AUTH-2: DINUM adds an allowlist entry (audited)."""
    role: str
    departement: str | None
    if isinstance(body, NationalSiretRule | NationalSirenRule):
        role, departement = body.role, None
        match = "siret" if isinstance(body, NationalSiretRule) else "siren"
    else:
        role, departement = "prefect", body.departement
        match = "siret" if isinstance(body, PrefectSiretRule) else "email_domain"
    existing = (
        await session.execute(
            select(MappingRule).where(
                col(MappingRule.role) == role,
                col(MappingRule.match) == match,
                col(MappingRule.value) == body.value,
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        raise Conflict(
            "Une règle identique existe déjà.", code="R-AUTH-2", rule_id=str(existing.id)
        )
    rule = MappingRule(
        role=role,
        match=match,
        value=body.value,
        departement=departement,
        note=body.note,
        created_by=principal.subject,
    )
    # Issue 23: an identical rule created meanwhile by a concurrent request: 409, not a 500.
    await add_unique(session, rule, Conflict("Une règle identique existe déjà.", code="R-AUTH-2"))
    await record(
        session,
        principal,
        object_type="signin_mapping_rule",
        object_id=rule.id,
        departement=departement,
        action="created",
        before=None,
        after=_rule_view(rule),
    )
    return rule


async def delete_rule(session: AsyncSession, principal: Principal, *, rule_id: uuid.UUID) -> None:
    rule = await session.get(MappingRule, rule_id)
    if rule is None:
        raise MappingRuleNotFound()
    await record(
        session,
        principal,
        object_type="signin_mapping_rule",
        object_id=rule.id,
        departement=rule.departement,
        action="deleted",
        before=_rule_view(rule),
        after=None,
    )
    await session.delete(rule)
    await session.flush()


# -- server-side flow ------------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def start_login(session: AsyncSession, settings: Settings) -> tuple[LoginState, str]:
    """A new `state` (43 chars), `nonce` (43 chars) and PKCE pair, kept in the database."""
    now = utcnow()
    await session.execute(delete(LoginState).where(col(LoginState.expires_at) < now))
    verifier, challenge = pkce_pair()
    state = LoginState(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        code_verifier=verifier,
        expires_at=now + timedelta(seconds=settings.signin_state_ttl_seconds),
    )
    session.add(state)
    await session.flush()
    return state, challenge


@dataclass(frozen=True)
class PendingLogin:
    """What a consumed `state` row held: the ID token's nonce and the PKCE verifier."""

    nonce: str
    code_verifier: str


async def take_login_state(
    sessionmaker: async_sessionmaker[AsyncSession], state: str
) -> PendingLogin | None:
    """The pending login of this `state`, consumed; None if unknown, expired or already taken.

    R-AUTH-2, single use under concurrency: the row is deleted by the statement that reads it
    (DELETE … RETURNING), so of concurrent callbacks with one `state` only the one whose delete
    removed the row gets it; in a transaction of its own, committed before the provider is
    called, so that a failure after it never revives the state."""
    stmt = (
        delete(LoginState)
        .where(col(LoginState.state) == state)
        .returning(col(LoginState.nonce), col(LoginState.code_verifier), col(LoginState.expires_at))
    )
    async with sessionmaker() as side, side.begin():
        row = (await side.execute(stmt)).one_or_none()
    if row is None or row.expires_at <= utcnow():
        return None
    return PendingLogin(nonce=row.nonce, code_verifier=row.code_verifier)


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


async def issue_code(session: AsyncSession, identity: Identity, settings: Settings) -> str:
    """A one-time code (43 chars) for the front-end; only its hash is stored."""
    now = utcnow()
    await session.execute(delete(OneTimeCode).where(col(OneTimeCode.expires_at) < now))
    code = secrets.token_urlsafe(32)
    session.add(
        OneTimeCode(
            code_hash=_hash(code),
            identity=identity.as_json(),
            expires_at=now + timedelta(seconds=settings.signin_code_ttl_seconds),
        )
    )
    await session.flush()
    return code


async def redeem_code(session: AsyncSession, code: str) -> Identity:
    """Single use: the row is deleted by the statement that reads it; a second redemption
    (here or on another instance) finds nothing."""
    stmt = (
        delete(OneTimeCode)
        .where(col(OneTimeCode.code_hash) == _hash(code))
        .returning(col(OneTimeCode.identity), col(OneTimeCode.expires_at))
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None or row.expires_at <= utcnow():
        raise InvalidSigninCode(code="R-AUTH-2")
    data: dict[str, Any] = row.identity
    roles = data.get("roles")
    return Identity(
        sub=str(data["sub"]),
        siret=data.get("siret"),
        email=data.get("email"),
        organization_label=data.get("organization_label"),
        roles=tuple(roles) if isinstance(roles, list) else None,
    )
