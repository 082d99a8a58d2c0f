"""Use cases of the démarches-simplifiées integration (issue 14): a démarche's mapping, the
sync that imports its dossiers, the outbox of decisions written back, a dossier's DS view.

Sync: every page is read from DS first (no write yet), so that a DS failure, a GraphQL
`errors` answer included, leaves nothing half-written; then each dossier is imported in the
request's transaction through the candidates and projects services (R-REF-1, R-REF-2,
R-FLOW-2), or refused with its reasons before anything of it is written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col, select

from app.audit import service as audit
from app.auth.principal import Principal, Role
from app.candidates import repository as candidates_repository, service as candidates_service
from app.candidates.models import Candidate
from app.candidates.rules import Identity, resolve_identity
from app.candidates.schemas import CandidateCreate
from app.core.concurrency import check_if_match, flush_versioned
from app.core.config import Settings
from app.core.db import add_unique, read_only_transaction
from app.core.errors import AppError, PreconditionFailed
from app.core.pagination import PageParams, keyset_page, split_page
from app.core.rules import RuleFailure, raise_failures
from app.core.types import utcnow
from app.documents.storage import DocumentStorage
from app.ds import attachments, client as ds_client
from app.ds.errors import DemarcheForbidden, DemarcheNotFound, DsFailed, DsNotConfigured
from app.ds.models import DsDemarche, DsDossier, DsMutation, DsSyncRun
from app.ds.rules import (
    OPEN_STATES,
    STATE_AFTER,
    DsState,
    Mapping,
    MutationKind,
    NodeResult,
    ParsedContent,
    ParsedDossier,
    Reason,
    Refusal,
    accept_motivation,
    mutations_for,
    parse_node,
)
from app.ds.schemas import MappingIn
from app.programme.dependencies import programme_in_body, programme_named
from app.programme.models import Programme
from app.programme.rules import Owner, programme_open_problems, requirements
from app.projects import (
    filing as projects_filing,
    reads as projects_reads,
    transitions as projects_transitions,
)
from app.projects.display import euros
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


# -- mapping -------------------------------------------------------------------------------------


def _visible(demarche: DsDemarche, principal: Principal) -> bool:
    """R-ACL-1: DINUM sees every démarche, a prefect the national ones and its own."""
    if principal.role is Role.PREFECT:
        return demarche.departement in (None, principal.departement)
    return principal.role is Role.DINUM


async def get_demarche(session: AsyncSession, principal: Principal, *, number: int) -> DsDemarche:
    demarche = await session.get(DsDemarche, number)
    if demarche is None or not _visible(demarche, principal):
        raise DemarcheNotFound(code="R-ACL-1")
    return demarche


def programme_of(demarche: DsDemarche, default: str) -> str:
    """R-PROG-2: the programme a démarche imports into (its mapping's `programme`; a mapping
    stored before several programmes ran: the service's default)."""
    code = demarche.mapping.get("programme")
    return str(code) if code else default


def mapping_view(demarche: DsDemarche, default_programme: str) -> dict[str, Any]:
    return {
        "number": demarche.number,
        "departement": demarche.departement,
        **demarche.mapping,
        "programme": programme_of(demarche, default_programme),
        "version": demarche.version,
        "updated_at": demarche.updated_at,
    }


async def check_document_kinds(session: AsyncSession, data: MappingIn) -> None:
    """R-DOC-1: a champ's documents are imported as a kind some programme files once per
    dossier; every other kind named is listed (422)."""
    importable = {
        r.code
        for stored in (await session.execute(select(Programme.required_documents))).scalars()
        for r in requirements(stored)
        if r.owner is Owner.PROJECT and not r.per_line
    }
    raise_failures(
        [
            RuleFailure(
                "R-DOC-1",
                f"Nature de pièce « {entry.kind} » inconnue ou non importable : "
                f"{', '.join(sorted(importable))} attendu.",
                f"/documents/{i}/kind",
            )
            for i, entry in enumerate(data.documents or [])
            if entry.kind not in importable
        ]
    )


def check_programme_values(programme: Programme, data: MappingIn) -> None:
    """R-PROG-1: the strands and expense categories a mapping imports into are its programme's
    (as its document kinds are, R-DOC-1); every other one named is listed (422)."""
    strands = [str(s["code"]) for s in programme.strands]
    categories = [str(c["code"]) for c in programme.categories]
    raise_failures(
        [
            RuleFailure(
                "R-PROG-1",
                f"Volet « {entry.strand} » inconnu du programme : {', '.join(strands)} attendu.",
                f"/strands/{i}/strand",
            )
            for i, entry in enumerate(data.strands)
            if entry.strand not in strands
        ]
        + [
            RuleFailure(
                "R-PROG-1",
                f"Catégorie « {entry.category} » inconnue du programme : "
                f"{', '.join(categories)} attendu.",
                f"/categories/{i}/category",
            )
            for i, entry in enumerate(data.categories)
            if entry.category not in categories
        ]
    )


async def put_mapping(
    session: AsyncSession,
    principal: Principal,
    *,
    number: int,
    data: MappingIn,
    if_match: str | None,
    default_programme: str,
) -> tuple[DsDemarche, bool]:
    """Create or replace a démarche's mapping. DINUM: any démarche (national or bound to the
    département it names); a prefect: its département's (created bound to it). Replacing
    needs If-Match (R-FLOW-3). Returns the démarche and whether it was created."""
    departement = data.departement
    if principal.role is Role.PREFECT:
        if departement not in (None, principal.departement):
            raise DemarcheForbidden(
                "Un préfet ne configure que les démarches de son département.", code="R-ACL-1"
            )
        departement = principal.departement
    await check_document_kinds(session, data)
    # R-PROG-2: the démarche imports into one programme, named (422 when unknown) or the
    # default one, stored by code (a programme's code never changes).
    programme = await programme_in_body(session, data.programme, default_programme)
    check_programme_values(programme, data)
    stored = data.model_dump(mode="json", exclude={"departement"})
    stored["programme"] = programme.code
    demarche = await session.get(DsDemarche, number)
    if demarche is None:
        # R-FLOW-3: a creation too carries If-Match, "v0" (no mapping yet), so that two
        # concurrent creations cannot both win and a lost read is a 412, not an overwrite.
        check_if_match(if_match, 0)
        demarche = DsDemarche(
            number=number, departement=departement, mapping=stored, updated_by=principal.subject
        )
        # Created meanwhile by a concurrent "v0": ours is stale (R-FLOW-3), a 412, not a 500.
        await add_unique(session, demarche, PreconditionFailed(code="R-FLOW-3"))
        await audit.record(  # R-AUDIT-1
            session,
            principal,
            object_type="ds_demarche",
            object_id=str(number),
            departement=departement,
            action="created",
            after={"departement": departement, "mapping": stored},
        )
        return demarche, True
    if not _visible(demarche, principal):
        raise DemarcheNotFound(code="R-ACL-1")
    if principal.role is Role.PREFECT and demarche.departement is None:
        raise DemarcheForbidden(code="R-ACL-1")
    check_if_match(if_match, demarche.version)
    before = {"departement": demarche.departement, "mapping": demarche.mapping}
    demarche.mapping = stored
    demarche.departement = departement if principal.role is Role.DINUM else demarche.departement
    demarche.updated_by = principal.subject
    demarche.updated_at = utcnow()
    await flush_versioned(session)
    await audit.record(  # R-AUDIT-1
        session,
        principal,
        object_type="ds_demarche",
        object_id=str(number),
        departement=demarche.departement,
        action="updated",
        before=before,
        after={"departement": demarche.departement, "mapping": stored},
    )
    return demarche, False


# -- sync ----------------------------------------------------------------------------------------


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


def _reason(refusal: Refusal) -> dict[str, str]:
    return {"reason": refusal.reason.value, "code": refusal.code, "message": refusal.message}


def _scope_of(principal: Principal) -> str | None:
    return principal.departement if principal.role is Role.PREFECT else None


async def _since(session: AsyncSession, demarche: DsDemarche, scope: str | None) -> datetime | None:
    """The next updatedSince: the high-water mark of the runs since the mapping last changed
    (a changed mapping reads every dossier again) whose scope covers this one."""
    stmt = select(DsSyncRun.high_water).where(
        DsSyncRun.demarche_number == demarche.number,
        col(DsSyncRun.created_at) >= demarche.updated_at,
        col(DsSyncRun.high_water).is_not(None),
    )
    if scope is None:
        stmt = stmt.where(col(DsSyncRun.departement).is_(None))
    else:
        stmt = stmt.where(
            or_(col(DsSyncRun.departement).is_(None), col(DsSyncRun.departement) == scope)
        )
    marks = [m for m in (await session.execute(stmt)).scalars().all() if m is not None]
    return max(marks) if marks else None


async def _fetch(settings: Settings, number: int, since: datetime | None) -> tuple[list[Any], int]:
    try:
        client = ds_client.DsClient(settings)
    except ds_client.DsNotConfigured as exc:
        raise DsNotConfigured() from exc
    nodes: list[Any] = []
    pages = 0
    try:
        async with client:
            async for page in client.dossiers(number, updated_since=since):
                pages += 1
                nodes += page.nodes
    except ds_client.DsGraphQLError as exc:
        raise DsFailed(
            f"{exc.message} La synchronisation est abandonnée, rien n'a été importé.",
            code="DS-GRAPHQL",
        ) from exc
    except ds_client.DsError as exc:
        raise DsFailed(
            f"{exc.message} La synchronisation est abandonnée, rien n'a été importé.",
            code="DS-UNAVAILABLE",
        ) from exc
    return nodes, pages


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


def _out_of_scope(departement: str | None) -> Refusal:
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
        return None, [_out_of_scope(departement)]
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


async def _create(
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
            _reason(
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
        item.reasons.append(_reason(_validation_refusal(exc)))
        return
    candidate, refusals = await _candidate(session, principal, dossier.content)
    if candidate is None:
        item.outcome = "refused"
        item.reasons += [_reason(r) for r in refusals]
        return
    # R-PROG-2: into the démarche's programme (a closed one accepts no new dossier, R-PROG-1).
    programme = await programme_named(
        session, demarche.mapping.get("programme"), settings.programme_code
    )
    closed = programme_open_problems(programme.status, code=programme.code)
    if closed:
        item.outcome = "refused"
        item.reasons.append(
            _reason(Refusal(Reason.PROGRAMME_CLOSED, closed[0].code, closed[0].message))
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
        item.reasons += [_reason(r) for r in _outside_refusals(exc)]
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


async def _update(
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
            item.reasons.append(_reason(_validation_refusal(exc)))
            return
        try:
            await projects_filing.apply_update(session, principal, project=project, data=data)
        except OutsideProgramme as exc:  # R-PROG-1: checked before anything is written
            item.outcome = "refused"
            item.reasons += [_reason(r) for r in _outside_refusals(exc)]
            return
        link.content_hash = digest
        link.flagged_at = None
        link.flag_reason = None
    await session.flush()
    moved = await _advance(session, principal, project, dossier, item)
    item.outcome = "updated" if edited or moved else "unchanged"


async def sync(
    session: AsyncSession,
    principal: Principal,
    *,
    number: int,
    settings: Settings,
    storage: DocumentStorage | None = None,
) -> tuple[DsSyncRun, list[Item]]:
    """Import the démarche's dossiers changed since the last sync (DINUM: every département;
    a prefect: its own, the others reported out of scope, R-ACL-1). Idempotent.

    Three steps: read the mapping and the high-water mark (a read-only transaction, ended
    before DS is called), read every page from DS (no transaction open: a DS failure writes
    nothing), then import in one transaction (the request's).
    """
    started = utcnow()
    # The reads before DS's answer never hold SQLite's write lock, and no transaction stays
    # open while DS is called (seconds, a Retry-After): the reads end here, the writes begin
    # once every page is in.
    await read_only_transaction(session)
    demarche = await get_demarche(session, principal, number=number)
    scope = _scope_of(principal)
    since = await _since(session, demarche, scope)
    mapping = Mapping.from_data(demarche.mapping)
    await session.commit()
    nodes, pages = await _fetch(settings, number, since)
    parsed = [parse_node(node, mapping) for node in nodes]
    # A dossier changed while the pages were read may come twice: its last version counts.
    last: dict[str, int] = {r.id: i for i, r in enumerate(parsed) if r.id is not None}
    kept = [
        r.dossier for i, r in enumerate(parsed) if r.dossier is not None and last[r.dossier.id] == i
    ]
    # R-ACL-1: a prefect's sync does not fetch another département's files at all.
    kept = [d for d in kept if scope is None or d.content.departement in (None, scope)]
    fetched = await attachments.fetch_all(kept, settings, storage) if storage is not None else {}
    try:
        return await _import(
            session,
            principal,
            settings,
            storage,
            demarche,
            scope,
            since,
            started,
            nodes,
            pages,
            parsed,
            last,
            fetched,
        )
    finally:
        if storage is not None:  # what the import did not file (a failure, a refusal)
            for staged in fetched.values():
                for one in staged:
                    if one.received is not None:
                        await storage.discard(one.received.staging_key)


async def _import(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    storage: DocumentStorage | None,
    demarche: DsDemarche,
    scope: str | None,
    since: datetime | None,
    started: datetime,
    nodes: list[Any],
    pages: int,
    parsed: list[NodeResult],
    last: dict[str, int],
    fetched: dict[str, list[attachments.Fetched]],
) -> tuple[DsSyncRun, list[Item]]:
    number = demarche.number
    if session.get_bind().dialect.name == "postgresql":
        # Syncs of one démarche write one at a time (SQLite: BEGIN IMMEDIATE already does).
        await session.execute(
            select(DsDemarche.number).where(DsDemarche.number == number).with_for_update()
        )
    items: list[Item] = []
    high_water = since
    low_water: datetime | None = None
    for i, result in enumerate(parsed):
        if result.id is not None and last[result.id] != i:
            continue
        dossier = result.dossier
        item = Item(
            result.number,
            result.id,
            dossier.state.value if dossier else None,
            "refused",
            reasons=[_reason(r) for r in result.refusals],
        )
        items.append(item)
        if dossier is None:
            continue
        if high_water is None or dossier.modified_at > high_water:
            high_water = dossier.modified_at
        link = (
            await session.execute(select(DsDossier).where(DsDossier.dossier_id == dossier.id))
        ).scalar_one_or_none()
        if link is None:
            await _create(session, principal, settings, demarche, dossier, item)
        elif scope is not None and link.departement != scope:
            item.reasons.append(_reason(_out_of_scope(link.departement)))
        else:
            await _update(session, principal, link, dossier, item)
        if storage is not None and dossier.id in fetched:
            project = None
            if item.project_id is not None and item.outcome in ("created", "updated", "unchanged"):
                project = await session.get(Project, item.project_id)
            entries, failed = await attachments.file_all(
                session, principal, project, fetched[dossier.id], settings, storage
            )
            item.attachments = entries
            if failed:
                # Read again at the next sync (DS's updatedSince includes its bound), so that
                # a file that failed is fetched again, the ones already filed recognised.
                retry_from = dossier.modified_at - timedelta(seconds=1)
                low_water = retry_from if low_water is None else min(low_water, retry_from)
    if low_water is not None and high_water is not None:
        high_water = min(high_water, low_water)
    counts = {
        k: sum(1 for it in items if it.outcome == k)
        for k in ("created", "updated", "unchanged", "refused", "flagged")
    }
    run = DsSyncRun(
        demarche_number=number,
        departement=scope,
        actor_subject=principal.subject,
        actor_role=principal.role.value,
        updated_since=since,
        high_water=high_water,
        pages=pages,
        fetched=len(nodes),
        drafts=sum(1 for it in items if it.draft and it.outcome in ("created", "updated")),
        report=[it.as_dict() for it in items],
        created_at=started,  # a mapping changed during the fetch is newer: all read again
        created=counts["created"],
        updated=counts["updated"],
        unchanged=counts["unchanged"],
        refused=counts["refused"],
        flagged=counts["flagged"],
    )
    session.add(run)
    await session.flush()
    await audit.record(  # R-AUDIT-1: the run and its counts (each dossier has its own events)
        session,
        principal,
        object_type="ds_sync",
        object_id=run.id,
        departement=scope,
        action="completed",
        after={"demarche_number": number, "fetched": len(nodes), **counts},
    )
    return run, items


async def list_syncs(
    session: AsyncSession,
    principal: Principal,
    *,
    page: PageParams,
    demarche_number: int | None = None,
    updated_since: datetime | None = None,
) -> tuple[list[DsSyncRun], str | None]:
    """Sync runs, newest last by keyset; a prefect sees its own scope's and national ones."""
    stmt = select(DsSyncRun)
    if principal.role is Role.PREFECT:
        stmt = stmt.where(col(DsSyncRun.departement) == principal.departement)
    if demarche_number is not None:
        stmt = stmt.where(DsSyncRun.demarche_number == demarche_number)
    if updated_since is not None:
        stmt = stmt.where(col(DsSyncRun.created_at) >= updated_since)
    stmt = keyset_page(stmt, DsSyncRun.created_at, DsSyncRun.id, page)
    rows = list((await session.execute(stmt)).scalars().all())
    return split_page(rows, page, lambda r: (r.created_at, r.id))


# -- write-back ----------------------------------------------------------------------------------


def real_now() -> datetime:
    return datetime.now(UTC)


def _project_message(session: Session, project_id: str) -> str | None:
    table = Project.__table__  # type: ignore[attr-defined]
    return session.execute(
        select(table.c.status_message).where(table.c.id == uuid.UUID(project_id))
    ).scalar_one_or_none()


def _decisions(events: list[dict[str, Any]]) -> list[tuple[str, MutationKind, dict[str, Any]]]:
    """(project id, mutation, facts) for each event that DS must hear of, in chain order."""
    found: list[tuple[str, MutationKind, dict[str, Any]]] = []
    for event in events:
        after = event.get("after") or {}
        if (
            event["object_type"] == "project"
            and event["action"] == projects_transitions.STATUS_CHANGED
        ):
            transition = after.get("transition")
            if transition == Action.START_REVIEW.value:
                found.append((event["object_id"], MutationKind.PASSER_EN_INSTRUCTION, {}))
            elif transition == Action.CLOSE.value:
                found.append((event["object_id"], MutationKind.CLASSER_SANS_SUITE, {}))
        elif event["object_type"] == "committee" and event["action"] == "closed":
            decisions = after.get("decisions")
            # the committees domain records the list of decisions at close (anything else,
            # e.g. a bare count, names no dossier)
            for decision in decisions if isinstance(decisions, list) else []:
                if decision.get("outcome") == "accepted":
                    found.append((str(decision["project_id"]), MutationKind.ACCEPTER, decision))
                elif decision.get("outcome") == "rejected":
                    found.append((str(decision["project_id"]), MutationKind.REFUSER, decision))
    return found


@audit.on_append
def _write_back(session: Session, events: list[dict[str, Any]]) -> None:
    """Issue 14: the DS mutations of these events, queued in their transaction (a rolled-back
    change sends nothing; a DS outage delays, never loses). Only dossiers imported from DS."""
    decisions = _decisions(events)
    if not decisions:
        return
    ids = {uuid.UUID(pid) for pid, _, _ in decisions}
    links = {
        str(link.project_id): link
        for link in session.execute(
            select(DsDossier).where(col(DsDossier.project_id).in_(ids))
        ).scalars()
    }
    if not links:
        return
    now = real_now()
    rows = []
    states = {pid: link.ds_state for pid, link in links.items()}
    for project_id, decision, facts in decisions:
        link = links.get(project_id)
        if link is None:
            continue
        for kind in mutations_for(states[project_id], decision):
            motivation = None
            if kind is MutationKind.ACCEPTER:
                granted = int(facts.get("granted_cents") or 0)
                motivation = accept_motivation(granted, euros(granted), None)
            elif kind in (MutationKind.REFUSER, MutationKind.CLASSER_SANS_SUITE):
                motivation = _project_message(session, project_id) or (
                    "Dossier non retenu par le comité de sélection."
                    if kind is MutationKind.REFUSER
                    else "Dossier classé sans suite par la préfecture."
                )
            rows.append(
                {
                    "project_id": link.project_id,
                    "dossier_id": link.dossier_id,
                    "dossier_number": link.dossier_number,
                    "departement": link.departement,
                    "kind": kind.value,
                    "motivation": motivation,
                    "client_mutation_id": str(uuid.uuid4()),
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "attempt_log": [],
                    "created_at": now,
                }
            )
            states[project_id] = STATE_AFTER[kind].value
    if rows:
        session.execute(insert(DsMutation), rows)
        for project_id, link in links.items():
            if states[project_id] != link.ds_state:  # the state asked of DS
                session.execute(
                    update(DsDossier)
                    .where(col(DsDossier.project_id) == link.project_id)
                    .values(ds_state=states[project_id])
                    .execution_options(synchronize_session=False)
                )


async def project_ds(
    session: AsyncSession, principal: Principal, *, project_id: uuid.UUID
) -> tuple[DsDossier, list[DsMutation]]:
    """A dossier's DS side: its DS number and id, the DS state, a flag, the write-back's
    deliveries (State roles; 404 for a dossier out of scope or not from DS)."""
    await projects_reads.get_project(session, principal, project_id=project_id, with_lines=False)
    link = await session.get(DsDossier, project_id)
    if link is None:
        raise DemarcheNotFound("Ce dossier ne vient pas de démarches-simplifiées.")
    mutations = list(
        (
            await session.execute(
                select(DsMutation)
                .where(DsMutation.project_id == project_id)
                .order_by(col(DsMutation.id))
            )
        ).scalars()
    )
    return link, mutations
