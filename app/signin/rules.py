"""R-AUTH-2, pure: a verified ProConnect identity and what the database knows about its
organisation → a role and a scope, or a refusal that says why and whom to contact."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.auth.principal import Role

SIRET_PATTERN = re.compile(r"[0-9]{14}")
ROLE_ETAT = "agent_public_etat"
ROLE_TERRITORIAL = "agent_public_territorial"
CONTACT_PREFECTURE = (
    "Agent d'une collectivité : demandez à votre préfecture d'enregistrer votre collectivité "
    "comme candidate. Agent de l'État (préfecture, DINUM, ANCT) : écrivez à la DINUM pour "
    "faire ajouter le SIRET de votre service à ses règles de correspondance."
)
CONTACT_DINUM = (
    "Écrivez à la DINUM pour faire ajouter le SIRET de votre service (ou le domaine de votre "
    "adresse électronique) à ses règles de correspondance."
)


def _text(claims: Mapping[str, Any], name: str, limit: int = 255) -> str | None:
    value = claims.get(name)
    if isinstance(value, str) and value and len(value) <= limit and value.isprintable():
        return value
    return None


@dataclass(frozen=True)
class Identity:
    """What we read of a verified ProConnect identity (ID token, then signed userinfo)."""

    sub: str
    siret: str | None
    email: str | None
    organization_label: str | None
    roles: tuple[str, ...] | None  # None: the provider gave no `roles` claim

    @property
    def siren(self) -> str | None:
        return self.siret[:9] if self.siret else None

    @property
    def email_domain(self) -> str | None:
        if self.email is None or "@" not in self.email:
            return None
        return self.email.rsplit("@", 1)[1].lower()

    def as_json(self) -> dict[str, Any]:
        return {
            "sub": self.sub,
            "siret": self.siret,
            "email": self.email,
            "organization_label": self.organization_label,
            "roles": list(self.roles) if self.roles is not None else None,
        }


def identity_from_claims(claims: Mapping[str, Any]) -> Identity:
    """R-AUTH-2: strict reading; a malformed SIRET counts as none (then refused, explained)."""
    siret = _text(claims, "siret", 14)
    if siret is not None and not SIRET_PATTERN.fullmatch(siret):
        siret = None
    raw_roles = claims.get("roles")
    roles: tuple[str, ...] | None = None
    if isinstance(raw_roles, list):
        roles = tuple(r for r in raw_roles if isinstance(r, str))
    elif isinstance(raw_roles, str):
        roles = tuple(raw_roles.split())
    label = _text(claims, "organization_label", 300) or _text(claims, "organizational_unit", 300)
    return Identity(
        sub=str(claims["sub"]),
        siret=siret,
        email=_text(claims, "email", 320),
        organization_label=label,
        roles=roles,
    )


@dataclass(frozen=True)
class RuleRow:
    """A mapping rule, as the rules see it."""

    id: str
    role: str  # dinum | anct | prefect
    match: str  # siret | siren | email_domain
    value: str
    departement: str | None


@dataclass(frozen=True)
class Facts:
    """What the database says about the identity's organisation."""

    rules: Sequence[RuleRow] = ()
    envelope_departements: Sequence[str] = ()  # départements whose préfecture has this SIRET
    collectivite_name: str | None = None  # R-REF-1: the SIREN is a commune or EPCI
    candidate_verification: str | None = None  # a registered candidate's state
    candidate_name: str | None = None


@dataclass(frozen=True)
class Granted:
    role: Role
    rule: str  # the `mapping_rule` claim and GET /auth/me's answer
    departement: str | None = None
    siren: str | None = None


@dataclass(frozen=True)
class Refused:
    rule: str
    reason: str
    contact: str = field(default=CONTACT_PREFECTURE)


def _matches(rule: RuleRow, identity: Identity) -> bool:
    if rule.match == "siret":
        return identity.siret is not None and rule.value == identity.siret
    if rule.match == "siren":
        return identity.siren is not None and rule.value == identity.siren
    if rule.match == "email_domain":
        return identity.email_domain is not None and rule.value.lower() == identity.email_domain
    return False


def _lacks(identity: Identity, role: str) -> bool:
    """A `roles` claim, when the provider gives one, must contain `role`."""
    return identity.roles is not None and role not in identity.roles


def decide(identity: Identity, facts: Facts) -> Granted | Refused:
    """R-AUTH-2, in this order: DINUM/ANCT allowlist; prefect (envelope SIRET, SIRET allowlist,
    e-mail domain); candidate (collectivité of the reference data, registered candidate not
    refused); anything else refused."""
    if identity.siret is None and identity.email_domain is None:
        return Refused(
            "R-AUTH-2/no-siret",
            "ProConnect n'a pas transmis de SIRET valide pour votre organisation.",
            CONTACT_DINUM,
        )
    # 1. DINUM and ANCT: their organisations' SIRET or SIREN (allowlist).
    for role in (Role.DINUM, Role.ANCT):
        for rule in facts.rules:
            if rule.role == role.value and rule.match in ("siret", "siren"):
                if _matches(rule, identity):
                    return Granted(role, f"allowlist-{role.value}-{rule.match}:{rule.id}")
    # 2. Prefect: the envelope's préfecture SIRET, else the allowlist, else the e-mail domain.
    prefect_candidates: list[tuple[str, str]] = [
        (f"prefecture-envelope:{dep}", dep) for dep in sorted(set(facts.envelope_departements))
    ]
    for match, label in (("siret", "allowlist-prefect-siret"), ("email_domain", "email-domain")):
        if not prefect_candidates:
            prefect_candidates = [
                (f"{label}:{rule.id}", rule.departement or "")
                for rule in facts.rules
                if rule.role == "prefect" and rule.match == match and _matches(rule, identity)
            ]
    if prefect_candidates:
        departements = {dep for _, dep in prefect_candidates}
        rule_name = prefect_candidates[0][0]
        if len(departements) > 1:
            return Refused(
                "R-AUTH-2/prefect-ambiguous",
                "Votre organisation correspond à plusieurs départements ("
                + ", ".join(sorted(departements))
                + ") : le rôle de préfet ne peut pas être attribué.",
                CONTACT_DINUM,
            )
        if _lacks(identity, ROLE_ETAT):
            return Refused(
                "R-AUTH-2/prefect-requires-agent_public_etat",
                f"Le rôle de préfet (règle {rule_name}) exige le rôle ProConnect "
                f"« {ROLE_ETAT} », absent de votre identité.",
                CONTACT_DINUM,
            )
        return Granted(Role.PREFECT, rule_name, departement=departements.pop())
    # 3. Candidate: a collectivité of the reference data, or a registered candidate not refused.
    siren = identity.siren
    if siren is not None:
        candidate_rule: str | None = None
        if facts.collectivite_name is not None:
            candidate_rule = "collectivite-reference"
        elif facts.candidate_verification not in (None, "refused"):
            candidate_rule = "registered-candidate"
        if candidate_rule is not None:
            if _lacks(identity, ROLE_TERRITORIAL):
                return Refused(
                    "R-AUTH-2/candidate-requires-agent_public_territorial",
                    f"Le rôle de candidat (règle {candidate_rule}) exige le rôle ProConnect "
                    f"« {ROLE_TERRITORIAL} », absent de votre identité.",
                )
            return Granted(Role.CANDIDATE, f"{candidate_rule}:{siren}", siren=siren)
        if facts.candidate_verification == "refused":
            return Refused(
                "R-AUTH-2/candidate-refused",
                "Votre organisation est enregistrée comme candidate mais sa vérification a "
                "été refusée.",
            )
    return Refused(
        "R-AUTH-2/no-rule",
        "Aucune règle de correspondance ne donne de rôle à votre organisation : ni la liste "
        "DINUM/ANCT, ni le SIRET d'une préfecture, ni une collectivité ou une candidate "
        "enregistrée.",
    )
