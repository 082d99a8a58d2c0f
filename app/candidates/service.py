"""Use cases of candidates."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.principal import Principal, Role
from app.candidates import repository
from app.candidates.errors import (
    CandidateAlreadyRegistered,
    CandidateNotFound,
    CandidateRefused,
    NotYourOrganisation,
)
from app.candidates.models import Candidate
from app.candidates.rules import Identity, resolve_identity
from app.candidates.schemas import CandidateCreate, CandidateRead, CandidateUpdate, ContactRead
from app.core.concurrency import check_if_match, flush_versioned
from app.core.pagination import PageParams, keyset_page, split_page
from app.core.rules import raise_failures
from app.core.types import utcnow
from app.reference.catalogue import get_catalogue
from app.reference.kinds import OrganisationKind


@dataclass(frozen=True)
class CandidateFilters:
    departement: str | None = None
    kind: OrganisationKind | None = None
    updated_since: datetime | None = None


def to_read(candidate: Candidate) -> CandidateRead:
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
        contact=ContactRead(
            name=candidate.contact_name,
            email=candidate.contact_email,
            phone=candidate.contact_phone,
        ),
        version=candidate.version,
        created_at=candidate.created_at,
        updated_at=candidate.updated_at,
    )


async def register_candidate(
    session: AsyncSession, principal: Principal, *, data: CandidateCreate
) -> Candidate:
    """Register an organisation.

    R-ELIG-1 (kind), R-ELIG-2 (SIRET, département, one per SIREN), R-REF-1 (reference data).
    A candidate agent registers only its own SIREN, a prefect only in its département.
    Raises CandidateRefused (422), NotYourOrganisation (403), CandidateAlreadyRegistered (409).
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
        raise NotYourOrganisation(
            f"Ce candidat relève du département {identity.departement}, hors de votre périmètre."
        )
    if await repository.get_by_siren(session, identity.siren) is not None:
        raise CandidateAlreadyRegistered(code="R-ELIG-2")
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
        contact_name=contact.name if contact else None,
        contact_email=contact.email if contact else None,
        contact_phone=contact.phone if contact else None,
        created_by=principal.subject,
    )
    try:
        async with session.begin_nested():
            session.add(candidate)
    except IntegrityError as exc:  # a concurrent registration of the same SIREN won
        raise CandidateAlreadyRegistered(code="R-ELIG-2") from exc
    return candidate


async def get_candidate(
    session: AsyncSession, principal: Principal, *, candidate_id: uuid.UUID
) -> Candidate:
    """A candidate in the principal's scope; CandidateNotFound (404) otherwise (R-ACL-1)."""
    candidate = await repository.get_visible_candidate(session, principal, candidate_id)
    if candidate is None:
        raise CandidateNotFound()
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
    candidate.name = identity.name
    candidate.population = identity.population
    candidate.public_body_attestation = identity.public_body_attestation
    if data.contact is not None:
        contact_changes = data.contact.model_dump(exclude_unset=True)
        for key, value in contact_changes.items():
            setattr(candidate, f"contact_{key}", value)
    candidate.updated_at = utcnow()
    await flush_versioned(session)
    return candidate
