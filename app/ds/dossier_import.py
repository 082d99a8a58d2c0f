"""Importing one DS dossier (issue 14): created or updated here, or refused with its reasons.

Each dossier goes through the candidates and projects services in the sync's transaction
(R-REF-1, R-REF-2, R-ELIG-1, R-ELIG-2, R-PROG-1, R-PROG-2, R-FLOW-2 with R-ELIG-8 measured on
its filing day), or is refused before anything of it is written; a dossier edited on DS after
it moved on here is flagged, never overwritten.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.auth.principal import Principal, Role
from app.candidates import repository as candidates_repository, service as candidates_service
from app.candidates.models import Candidate
from app.candidates.rules import Identity, resolve_identity
from app.candidates.schemas import CandidateCreate
from app.core.config import Settings
from app.core.errors import AppError
from app.core.types import utcnow
from app.ds.dossier_rules import ParsedContent, ParsedDossier
from app.ds.models import DsDemarche, DsDossier, DsMutation
from app.ds.rules import OPEN_STATES, DsState, Reason, Refusal
from app.programme.dependencies import programme_named
from app.programme.rules import programme_open_problems
from app.projects import (
    filing as projects_filing,
    reads as projects_reads,
    transitions as projects_transitions,
)
from app.projects.errors import OutsideProgramme
from app.projects.lifecycle_rules import STATUS_LABELS_FR, Action, Status
from app.projects.models import Project
from app.projects.schemas import ProjectCreate, ProjectUpdate
from app.reference.catalogue import get_catalogue
from app.reference.kinds import OrganisationKind

DECIDED_HERE = frozenset(
    {
        Status.ACCEPTED,
        Status.REJECTED,
        Status.CLOSED,
        Status.WITHDRAWN,
        Status.UNDER_CONVENTION,
        Status.PAID,
        Status.COMPLETED,
        Status.CANCELLED,
    }
)


@dataclass
class Item:
    dossier_number: int | None
    dossier_id: str | None
    ds_state: str | None
    outcome: str
    project_id: uuid.UUID | None = None
    status: str | None = None
    draft: bool = False
    reasons: list[dict[str, str]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dossier_number": self.dossier_number,
            "dossier_id": self.dossier_id,
            "ds_state": self.ds_state,
            "outcome": self.outcome,
            "project_id": str(self.project_id) if self.project_id else None,
            "status": self.status,
            "draft": self.draft,
            "reasons": self.reasons,
            "attachments": self.attachments,
        }


def reason_entry(refusal: Refusal) -> dict[str, str]:
    return {"reason": refusal.reason.value, "code": refusal.code, "message": refusal.message}


def _identity_refusal(content: ParsedContent) -> tuple[Identity | None, list[Refusal]]:
    """R-ELIG-1, R-ELIG-2, R-REF-1 checked on the declared identity before anything is written."""
    try:
        kind = OrganisationKind(content.kind)
        CandidateCreate(siret=content.siret, kind=kind)
    except (ValueError, ValidationError):
        return None, [
            Refusal(Reason.INVALID_SIRET, "R-ELIG-2", f"SIRET « {content.siret[:20]} » invalide.")
        ]
    identity, failures = resolve_identity(
        Identity(siret=content.siret, kind=kind, departement=content.departement),
        get_catalogue(),
    )
    refusals = []
    for failure in failures:
        if failure.code == "R-ELIG-1":
            reason = Reason.INELIGIBLE_KIND
        elif failure.code == "R-ELIG-2" and failure.field == "/siret":
            reason = Reason.INVALID_SIRET
        else:
            reason = Reason.CANDIDATE_REFUSED
        refusals.append(Refusal(reason, failure.code, failure.message))
    return identity, refusals


def out_of_scope(departement: str | None) -> Refusal:
    return Refusal(
        Reason.OUT_OF_SCOPE,
        "R-ACL-1",
        f"Dossier d'un autre département ({departement}) : hors de votre périmètre.",
    )


async def _candidate(
    session: AsyncSession, principal: Principal, content: ParsedContent
) -> tuple[Candidate | None, list[Refusal]]:
    """The dossier's candidate: the registered one of its SIREN, or one registered now through
    the candidates service from the reference data (R-REF-1; R-REF-2 decides its status)."""
    identity, refusals = _identity_refusal(content)
    if refusals or identity is None:
        return None, refusals
    existing = await candidates_repository.get_by_siren(session, identity.siren)
    departement = existing.departement if existing else identity.departement
    if principal.role is Role.PREFECT and departement != principal.departement:
        return None, [out_of_scope(departement)]
    if existing is not None:
        return existing, []
    try:
        candidate = await candidates_service.register_candidate(
            session,
            principal,
            data=CandidateCreate(
                siret=content.siret,
                kind=OrganisationKind(content.kind),
                departement=content.departement,
            ),
        )
    except AppError as exc:  # raised before anything is written
        return None, [Refusal(Reason.CANDIDATE_REFUSED, exc.code, exc.detail)]
    return candidate, []


def _project_fields(content: ParsedContent) -> dict[str, Any]:
    sponsor = None
    if content.sponsor_name or content.sponsor_role:
        sponsor = {"name": content.sponsor_name or "", "role": content.sponsor_role or ""}
    return {
        "strand": content.strand,
        "title": content.title,
        "description": content.description,
        "nature": content.nature,
        "start_on": content.start_on.isoformat() if content.start_on else None,
        "end_on": content.end_on.isoformat() if content.end_on else None,
        "sponsor": sponsor,
        "expense_lines": [
            {
                "category": line.category,
                "label": line.label,
                "amount_cents": line.amount_cents,
                **({"vendor_origin": line.vendor_origin} if line.vendor_origin else {}),
            }
            for line in content.expense_lines
        ],
        "requested_cents": content.requested_cents,
    }


def _outside_refusals(exc: OutsideProgramme) -> list[Refusal]:
    """What the programme refused of an imported dossier (R-ELIG-1: the candidate's kind;
    R-PROG-1: a strand or category the mapping names but the programme does not have)."""
    return [
        Refusal(
            Reason.INELIGIBLE_KIND if item.code == "R-ELIG-1" else Reason.UNKNOWN_VALUE,
            item.code,
            item.message,
        )
        for item in exc.errors or []
    ] or [Refusal(Reason.UNKNOWN_VALUE, exc.code, exc.detail)]


def _validation_refusal(exc: ValidationError) -> Refusal:
    first = exc.errors()[0]
    where = "/".join(str(p) for p in first.get("loc", ()))
    return Refusal(
        Reason.MALFORMED, "DS-MALFORMED", f"Donnée refusée ({where}) : {first.get('msg')}"
    )


async def _advance(
    session: AsyncSession,
    principal: Principal,
    project: Project,
    dossier: ParsedDossier,
    item: Item,
) -> bool:
    """Bring the project where its DS state says: submitted (R-FLOW-2, R-ELIG-8 measured on
    `dateDepot`) when eligible, in review when DS instructs it. True when it moved."""
    moved = False
    if project.status == Status.DRAFT.value and dossier.state in OPEN_STATES:
        report = await projects_transitions.submit_filed(
            session, principal, project=project, request_day=dossier.filed_on
        )
        moved = report.eligible
        if not report.eligible:  # R-FLOW-2: kept as a draft, listed with every failed rule
            item.reasons += [
                {"reason": "ineligible", "code": f.code, "message": f.message}
                for f in report.failures
            ]
    if project.status == Status.SUBMITTED.value and dossier.state == DsState.EN_INSTRUCTION:
        await projects_transitions.advance(session, principal, project, Action.START_REVIEW)
        moved = True
    item.status = project.status
    item.draft = project.status == Status.DRAFT.value
    return moved


async def create_dossier(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    demarche: DsDemarche,
    dossier: ParsedDossier,
    item: Item,
) -> None:
    if dossier.state not in OPEN_STATES:
        item.outcome = "refused"
        item.reasons.append(
            reason_entry(
                Refusal(
                    Reason.DECIDED_ON_DS,
                    "DS-STATE",
                    f"Dossier « {dossier.state.value} » sur DS : une décision n'est pas importée.",
                )
            )
        )
        return
    try:
        data = ProjectCreate.model_validate(_project_fields(dossier.content))
    except ValidationError as exc:
        item.outcome = "refused"
        item.reasons.append(reason_entry(_validation_refusal(exc)))
        return
    candidate, refusals = await _candidate(session, principal, dossier.content)
    if candidate is None:
        item.outcome = "refused"
        item.reasons += [reason_entry(r) for r in refusals]
        return
    # R-PROG-2: into the démarche's programme (a closed one accepts no new dossier, R-PROG-1).
    programme = await programme_named(
        session, demarche.mapping.get("programme"), settings.programme_code
    )
    closed = programme_open_problems(programme.status, code=programme.code)
    if closed:
        item.outcome = "refused"
        item.reasons.append(
            reason_entry(Refusal(Reason.PROGRAMME_CLOSED, closed[0].code, closed[0].message))
        )
        return
    try:
        project = await projects_filing.create_for_candidate(
            session,
            principal,
            candidate=candidate,
            programme=programme,
            data=data,
            ds_dossier_number=dossier.number,
            ds_dossier_id=dossier.id,
        )
    except OutsideProgramme as exc:  # R-ELIG-1, R-PROG-1: checked before anything is written
        item.outcome = "refused"
        item.reasons += [reason_entry(r) for r in _outside_refusals(exc)]
        return
    session.add(
        DsDossier(
            project_id=project.id,
            dossier_id=dossier.id,
            dossier_number=dossier.number,
            demarche_number=demarche.number,
            departement=project.departement,
            ds_state=dossier.state.value,
            content_hash=dossier.content.digest(),
            ds_modified_at=dossier.modified_at,
        )
    )
    await session.flush()  # the write-back's listener reads the link at commit
    item.outcome = "created"
    item.project_id = project.id
    await _advance(session, principal, project, dossier, item)


async def _pending_mutations(session: AsyncSession, dossier_id: str) -> int:
    rows = await session.execute(
        select(DsMutation.id).where(
            DsMutation.dossier_id == dossier_id, DsMutation.status == "pending"
        )
    )
    return len(rows.all())


async def update_dossier(
    session: AsyncSession,
    principal: Principal,
    link: DsDossier,
    dossier: ParsedDossier,
    item: Item,
) -> None:
    project = await projects_reads.get_project(session, principal, project_id=link.project_id)
    item.project_id = project.id
    digest = dossier.content.digest()
    edited = digest != link.content_hash
    state_moved = dossier.state.value != link.ds_state
    status = Status(project.status)
    item.status = project.status
    item.draft = status is Status.DRAFT
    if not edited and not state_moved:
        item.outcome = "unchanged"
        return
    link.ds_modified_at = dossier.modified_at
    link.updated_at = utcnow()
    if not await _pending_mutations(session, dossier.id):
        link.ds_state = dossier.state.value  # else: the state this service asked DS for
    siren = (
        await session.execute(select(Candidate.siren).where(Candidate.id == project.candidate_id))
    ).scalar_one()
    if edited and dossier.content.siret[:9] != siren:
        # Another organisation on the same dossier: never moved silently to another candidate.
        message = (
            f"Le SIRET du dossier a changé sur DS ({dossier.content.siret}) : le dossier reste "
            "à son organisation, à examiner."
        )
        link.flagged_at = utcnow()
        link.flag_reason = message
        item.outcome = "flagged"
        item.reasons.append({"reason": "candidate_changed", "code": "DS-FLAG", "message": message})
        await session.flush()
        return
    if edited and status is not Status.DRAFT:
        # Not silently overwritten: kept as decided (or submitted) here, flagged.
        reason = "edited_after_decision" if status in DECIDED_HERE else "edited_after_submission"
        message = (
            f"Dossier modifié sur DS le {dossier.modified_at:%d/%m/%Y %H:%M} alors qu'il est "
            f"« {STATUS_LABELS_FR[status]} » ici : la modification n'est pas "
            "reprise, à examiner."
        )
        link.flagged_at = utcnow()
        link.flag_reason = message[:500]
        item.outcome = "flagged"
        item.reasons.append({"reason": reason, "code": "DS-FLAG", "message": message})
        await session.flush()
        return
    if dossier.state not in OPEN_STATES and status not in DECIDED_HERE:
        message = f"Dossier « {dossier.state.value} » sur DS sans décision du guichet : non repris."
        link.flagged_at = utcnow()
        link.flag_reason = message
        item.outcome = "flagged"
        item.reasons.append({"reason": "decided_on_ds", "code": "DS-STATE", "message": message})
        await session.flush()
        return
    if edited:
        try:
            data = ProjectUpdate.model_validate(_project_fields(dossier.content))
        except ValidationError as exc:
            item.outcome = "refused"
            item.reasons.append(reason_entry(_validation_refusal(exc)))
            return
        try:
            await projects_filing.apply_update(session, principal, project=project, data=data)
        except OutsideProgramme as exc:  # R-PROG-1: checked before anything is written
            item.outcome = "refused"
            item.reasons += [reason_entry(r) for r in _outside_refusals(exc)]
            return
        link.content_hash = digest
        link.flagged_at = None
        link.flag_reason = None
    await session.flush()
    moved = await _advance(session, principal, project, dossier, item)
    item.outcome = "updated" if edited or moved else "unchanged"
