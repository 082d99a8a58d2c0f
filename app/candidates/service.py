"""Use cases of candidates."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audit import service as audit
from app.auth.principal import Principal, Role
from app.candidates import repository
from app.candidates.errors import (
    CandidateAlreadyRegistered,
    CandidateNotFound,
    CandidateRefused,
    NotYourOrganisation,
    TerritoryAlreadyRepresented,
    VerificationRefused,
)
from app.candidates.models import Candidate
from app.candidates.rules import (
    Identity,
    Verification,
    check_verification_decision,
    resolve_identity,
    verification_after_update,
)
from app.candidates.schemas import (
    CandidateCreate,
    CandidateRead,
    CandidateUpdate,
    ContactRead,
    VerificationDecision,
)
from app.core.concurrency import check_if_match, flush_versioned
from app.core.errors import Forbidden
from app.core.pagination import PageParams, keyset_page, split_page
from app.core.rules import raise_failures
from app.core.types import utcnow
from app.reference.catalogue import get_catalogue
from app.reference.kinds import OrganisationKind


@dataclass(frozen=True)
class CandidateFilters:
    departement: str | None = None
    kind: OrganisationKind | None = None
    verification: Verification | None = None
    updated_since: datetime | None = None


# R-NOTIF-1: personal data, kept out of the audit trail (only that it changed is recorded).
CONTACT_FIELDS = ("contact_name", "contact_role", "contact_email", "contact_phone")


def _contact(candidate: Candidate) -> tuple[str | None, ...]:
    return tuple(getattr(candidate, name) for name in CONTACT_FIELDS)


def to_read(candidate: Candidate, *, with_contact: bool = False) -> CandidateRead:
    """`with_contact`: the candidate itself reading its own record (R-NOTIF-1)."""
    return CandidateRead(
        id=candidate.id,
        siret=candidate.siret,
        siren=candidate.siren,
        name=candidate.name,
        kind=OrganisationKind(candidate.kind),
        epci_type=candidate.epci_type,
        departement=candidate.departement,
        region=candidate.region,
        commune_insee=candidate.commune_insee,
        population=candidate.population,
        from_reference=candidate.from_reference,
        public_body_attestation=candidate.public_body_attestation,
        verification=Verification(candidate.verification),
        verification_reason=candidate.verification_reason,
        verification_decided_at=candidate.verification_decided_at,
        contact=ContactRead(
            name=candidate.contact_name,
            role=candidate.contact_role,
            email=candidate.contact_email,
            phone=candidate.contact_phone,
        )
        if with_contact
        else None,
        version=candidate.version,
        created_at=candidate.created_at,
        updated_at=candidate.updated_at,
    )


def _territory_taken(identity: Identity) -> TerritoryAlreadyRepresented:
    what = (
        f"la région {identity.region}"
        if identity.kind is OrganisationKind.REGION
        else f"le département {identity.departement}"
    )
    return TerritoryAlreadyRepresented(
        f"Une organisation est déjà enregistrée comme {what} : une seule par département ou "
        "par région (R-REF-1).",
        code="R-REF-1",
    )


async def register_candidate(
    session: AsyncSession, principal: Principal, *, data: CandidateCreate
) -> Candidate:
    """Register an organisation.

    R-ELIG-1 (kind), R-ELIG-2 (SIRET, département, one per SIREN), R-REF-1 (reference data,
    one département or région per territory), R-REF-2 (verified or to verify).
    A candidate agent registers only its own SIREN, a prefect only in its département.
    Raises CandidateRefused (422), NotYourOrganisation (403), CandidateNotFound (404, R-ACL-1),
    CandidateAlreadyRegistered or TerritoryAlreadyRepresented (409).
    """
    if principal.role is Role.CANDIDATE and data.siret[:9] != principal.siren:
        raise NotYourOrganisation(
            "Un agent ne peut enregistrer que son organisation (SIREN de son jeton)."
        )
    declared = Identity(
        siret=data.siret,
        kind=data.kind,
        name=data.name,
        departement=data.departement,
        region=data.region,
        commune_insee=data.commune_insee,
        population=data.population,
        public_body_attestation=data.public_body_attestation,
    )
    identity, failures = resolve_identity(declared, get_catalogue())
    raise_failures(failures, error=CandidateRefused)
    assert identity.name is not None and identity.departement is not None
    if principal.role is Role.PREFECT and identity.departement != principal.departement:
        # R-ACL-1: another département's organisation is outside the prefect's scope; the
        # answer says no more than for any object out of scope (nor whether it is registered).
        raise CandidateNotFound(code="R-ACL-1")
    # R-ELIG-2: one candidate per SIREN; the answer never tells where it is registered.
    if await repository.get_by_siren(session, identity.siren) is not None:
        raise CandidateAlreadyRegistered(code="R-ELIG-2")
    territory = identity.territory
    # R-REF-1: one candidate of kind département per département, région per région.
    if territory is not None and await repository.get_by_territory(session, territory):
        raise _territory_taken(identity)
    contact = data.contact
    candidate = Candidate(
        siret=identity.siret,
        siren=identity.siren,
        name=identity.name,
        kind=identity.kind.value,
        epci_type=identity.epci_type,
        departement=identity.departement,
        region=identity.region,
        commune_insee=identity.commune_insee,
        population=identity.population,
        from_reference=identity.from_reference,
        public_body_attestation=identity.public_body_attestation,
        territory=territory,
        verification=identity.verification.value,  # R-REF-2
        contact_name=contact.name if contact else None,
        contact_role=contact.role if contact else None,
        contact_email=contact.email if contact else None,
        contact_phone=contact.phone if contact else None,
        created_by=principal.subject,
    )
    try:
        async with session.begin_nested():
            session.add(candidate)
    except IntegrityError as exc:  # a concurrent registration won (same SIREN or territory)
        if territory is not None and "territory" in str(exc.orig):
            raise _territory_taken(identity) from exc
        raise CandidateAlreadyRegistered(code="R-ELIG-2") from exc
    await audit.record(  # R-AUDIT-1
        session,
        principal,
        object_type="candidate",
        object_id=candidate.id,
        departement=candidate.departement,
        action="created",
        after=audit.snapshot(candidate, exclude=CONTACT_FIELDS),
    )
    return candidate


async def get_candidate(
    session: AsyncSession, principal: Principal, *, candidate_id: uuid.UUID
) -> Candidate:
    """A candidate in the principal's scope; CandidateNotFound (404) otherwise (R-ACL-1)."""
    candidate = await repository.get_visible_candidate(session, principal, candidate_id)
    if candidate is None:
        raise CandidateNotFound(code="R-ACL-1")
    return candidate


async def list_candidates(
    session: AsyncSession, principal: Principal, *, filters: CandidateFilters, page: PageParams
) -> tuple[list[Candidate], str | None]:
    """Candidates in the principal's scope, filtered, one keyset page (R-SYNC-1)."""
    stmt = repository.visible_candidates_stmt(principal)
    if filters.departement is not None:
        stmt = stmt.where(col(Candidate.departement) == filters.departement)
    if filters.kind is not None:
        stmt = stmt.where(col(Candidate.kind) == filters.kind.value)
    if filters.verification is not None:
        stmt = stmt.where(col(Candidate.verification) == filters.verification.value)
    if filters.updated_since is not None:
        stmt = stmt.where(col(Candidate.updated_at) >= filters.updated_since)
    stmt = keyset_page(stmt, Candidate.created_at, Candidate.id, page)
    rows = list((await session.execute(stmt)).scalars().all())
    return split_page(rows, page, lambda c: (c.created_at, c.id))


async def update_candidate(
    session: AsyncSession,
    principal: Principal,
    *,
    candidate_id: uuid.UUID,
    if_match: str | None,
    data: CandidateUpdate,
) -> Candidate:
    """A candidate agent edits its own organisation (R-FLOW-3 If-Match; R-REF-1 still holds).

    Raises CandidateNotFound (404), 428/412 on If-Match, CandidateRefused (422).
    """
    candidate = await get_candidate(session, principal, candidate_id=candidate_id)
    check_if_match(if_match, candidate.version)
    before = audit.snapshot(candidate, exclude=CONTACT_FIELDS)
    contact_before = _contact(candidate)
    changes = data.model_dump(exclude_unset=True)
    kind = OrganisationKind(candidate.kind)
    attestation = changes.get("public_body_attestation")
    declared = Identity(
        siret=candidate.siret,
        kind=kind,
        name=changes.get("name") or candidate.name,
        departement=candidate.departement,
        region=candidate.region,
        commune_insee=candidate.commune_insee,
        population=changes["population"] if "population" in changes else candidate.population,
        public_body_attestation=attestation
        if attestation is not None
        else candidate.public_body_attestation,
    )
    identity, failures = resolve_identity(declared, get_catalogue())
    raise_failures(failures, error=CandidateRefused)
    assert identity.name is not None
    # R-REF-2: a new name or population is checked again by the prefect.
    verification = verification_after_update(
        kind,
        Verification(candidate.verification),
        identity_changed=(identity.name, identity.population)
        != (candidate.name, candidate.population),
    )
    if verification.value != candidate.verification:
        candidate.verification = verification.value
        candidate.verification_reason = None
        candidate.verification_decided_by = None
        candidate.verification_decided_at = None
    candidate.name = identity.name
    candidate.population = identity.population
    candidate.public_body_attestation = identity.public_body_attestation
    if data.contact is not None:
        contact_changes = data.contact.model_dump(exclude_unset=True)
        for key, value in contact_changes.items():
            setattr(candidate, f"contact_{key}", value)
    candidate.updated_at = utcnow()
    await flush_versioned(session)
    await audit.record(  # R-AUDIT-1
        session,
        principal,
        object_type="candidate",
        object_id=candidate.id,
        departement=candidate.departement,
        action="updated",
        before={**before, "contact_changed": False},
        after={
            **audit.snapshot(candidate, exclude=CONTACT_FIELDS),
            "contact_changed": _contact(candidate) != contact_before,
        },
    )
    return candidate


async def decide_verification(
    session: AsyncSession,
    principal: Principal,
    *,
    candidate_id: uuid.UUID,
    if_match: str | None,
    data: VerificationDecision,
) -> Candidate:
    """R-REF-2: the prefect of the candidate's département verifies or refuses its identity.

    Raises Forbidden (403, not a prefect), CandidateNotFound (404, R-ACL-1: another
    département), 428/412 on If-Match, VerificationRefused (422: a commune or EPCI, or a
    refusal without its reason).
    """
    if principal.role is not Role.PREFECT:
        raise Forbidden("Seul le préfet du département vérifie un candidat (R-REF-2).")
    candidate = await repository.get_visible_candidate(
        session, principal, candidate_id, for_update=True
    )
    if candidate is None:
        raise CandidateNotFound(code="R-ACL-1")
    check_if_match(if_match, candidate.version)
    decision = Verification(data.decision)
    raise_failures(
        check_verification_decision(OrganisationKind(candidate.kind), decision, data.reason),
        error=VerificationRefused,
    )
    before = audit.snapshot(candidate, exclude=CONTACT_FIELDS)
    now = utcnow()
    candidate.verification = decision.value
    candidate.verification_reason = data.reason
    candidate.verification_decided_by = principal.subject
    candidate.verification_decided_at = now
    candidate.updated_at = now
    await flush_versioned(session)
    await audit.record(  # R-AUDIT-1: a verification is a decision on the candidate
        session,
        principal,
        object_type="candidate",
        object_id=candidate.id,
        departement=candidate.departement,
        action="verification_decided",
        before=before,
        after=audit.snapshot(candidate, exclude=CONTACT_FIELDS),
    )
    return candidate


async def verification_of(session: AsyncSession, *, candidate_id: uuid.UUID) -> Verification:
    """R-REF-2: the candidate's verification state (for acceptance, in budgets)."""
    state = await repository.verification_of(session, candidate_id)
    return Verification.TO_VERIFY if state is None else Verification(state)
