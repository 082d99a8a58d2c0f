"""Documents: upload, list, read and download, scoped like their dossier (R-DOC-1..3).

An upload is received into a staging object while it is read (`upload.receive_form`), then
judged (type from the bytes, kind, who may file it in which state), promoted to its final key
(`rules.storage_key`: owner and hash) and recorded; the row is written in the request's
transaction, after the bytes are in place, so a row never names missing bytes. A failure at
any point discards the staging object; one left behind by a crash is swept by the scan
worker (`worker.sweep`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.audit import service as audit_service
from app.auth.principal import Principal, Role
from app.candidates import repository as candidates_repository
from app.candidates.errors import CandidateNotFound
from app.candidates.models import Candidate
from app.core.config import Settings
from app.core.pagination import PageParams, keyset_page, split_page
from app.core.types import utcnow
from app.documents import rules
from app.documents.errors import (
    DocumentNotFound,
    DocumentNotServable,
    DocumentTooLarge,
    DocumentTypeRefused,
    RangeNotSatisfiable,
    UploadInvalid,
    UploadRefused,
)
from app.documents.models import Document
from app.documents.requirements import lines_of, programme_requirements
from app.documents.rules import ScanStatus
from app.documents.storage import DocumentStorage
from app.documents.upload import ReceivedFile, receive_form
from app.programme.models import Programme
from app.programme.rules import DOCUMENT_TYPES, Owner, Requirement, requirements
from app.projects import repository as projects_repository
from app.projects.errors import ProjectNotFound
from app.projects.models import ExpenseLine, Project


def initial_scan_status(settings: Settings) -> ScanStatus:
    """R-DOC-2: pending until the scanner's verdict; `unscanned` when none is configured."""
    return ScanStatus.PENDING if settings.documents_scanner_url else ScanStatus.UNSCANNED


# -- scope (R-DOC-3 = R-ACL-1 of the owner) ------------------------------------------------


def _visible_clause(principal: Principal) -> ColumnElement[bool] | None:
    """Documents follow their owner's scope: the projects' and the candidates' clauses, reused."""
    if principal.is_national:
        return None
    if principal.role not in (Role.CANDIDATE, Role.PREFECT):
        return false()
    projects = projects_repository.scope_projects(select(Project.id), principal)
    candidates = candidates_repository.visible_candidates_stmt(principal).with_only_columns(
        col(Candidate.id)
    )
    return or_(
        col(Document.project_id).in_(projects.scalar_subquery()),
        col(Document.candidate_id).in_(candidates.scalar_subquery()),
    )


def _visible(principal: Principal) -> Any:
    stmt = select(Document)
    clause = _visible_clause(principal)
    return stmt if clause is None else stmt.where(clause)


async def get_document(
    session: AsyncSession, principal: Principal, *, document_id: uuid.UUID
) -> Document:
    """A document in the principal's scope, else DocumentNotFound (404, R-DOC-3)."""
    found = (
        await session.execute(_visible(principal).where(col(Document.id) == document_id))
    ).scalar_one_or_none()
    if found is None:
        raise DocumentNotFound()
    return found  # type: ignore[no-any-return]


async def _project_in_scope(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID, *, for_update: bool
) -> Project:
    project = await projects_repository.get_visible_project(
        session, principal, project_id, for_update=for_update
    )
    if project is None:
        raise ProjectNotFound(code="R-ACL-1")
    return project


async def _candidate_in_scope(
    session: AsyncSession, principal: Principal, candidate_id: uuid.UUID, *, for_update: bool
) -> Candidate:
    candidate = await candidates_repository.get_visible_candidate(
        session, principal, candidate_id, for_update=for_update
    )
    if candidate is None:
        raise CandidateNotFound(code="R-ACL-1")
    return candidate


async def check_project_owner(
    session: AsyncSession, principal: Principal, *, project_id: uuid.UUID
) -> None:
    """Before reading an upload's bytes: the dossier is in scope (else 404)."""
    await _project_in_scope(session, principal, project_id, for_update=False)


async def check_candidate_owner(
    session: AsyncSession, principal: Principal, *, candidate_id: uuid.UUID
) -> None:
    await _candidate_in_scope(session, principal, candidate_id, for_update=False)


# -- lists ---------------------------------------------------------------------------------


async def list_documents(
    session: AsyncSession,
    principal: Principal,
    *,
    project_id: uuid.UUID | None = None,
    candidate_id: uuid.UUID | None = None,
    page: PageParams,
    updated_since: datetime | None = None,
) -> tuple[list[Document], str | None, list[rules.Upload]]:
    """A dossier's (or a candidate's) documents, superseded versions included, one keyset
    page; the owner out of scope is 404 (R-DOC-3, R-ACL-1); R-SYNC-1 `updated_since`; and
    what the caller may file there now (`allowed_uploads`)."""
    stmt = _visible(principal)
    allowed: list[rules.Upload] = []
    if project_id is not None:
        project = await _project_in_scope(session, principal, project_id, for_update=False)
        stmt = stmt.where(col(Document.project_id) == project_id)
        allowed = await _project_uploads(session, principal, project)
    if candidate_id is not None:
        candidate = await _candidate_in_scope(session, principal, candidate_id, for_update=False)
        stmt = stmt.where(col(Document.candidate_id) == candidate_id)
        allowed = rules.uploads_allowed(
            principal,
            await candidate_requirements(session),
            owner=Owner.CANDIDATE,
            status=None,
            strand=None,
            candidate_kind=candidate.kind,
        )
    if updated_since is not None:
        stmt = stmt.where(col(Document.updated_at) >= updated_since)
    stmt = keyset_page(stmt, Document.created_at, Document.id, page)
    rows = list((await session.execute(stmt)).scalars().all())
    return (*split_page(rows, page, lambda d: (d.created_at, d.id)), allowed)


async def _project_uploads(
    session: AsyncSession, principal: Principal, project: Project
) -> list[rules.Upload]:
    required = await programme_requirements(session, project.programme_id)
    candidate = await session.get_one(Candidate, project.candidate_id)
    return rules.uploads_allowed(
        principal,
        required,
        owner=Owner.PROJECT,
        status=project.status,
        strand=project.strand,
        candidate_kind=candidate.kind,
        lines=await lines_of(session, project),
    )


# -- upload --------------------------------------------------------------------------------


def _requirement_of(fields: dict[str, str], allowed: list[Requirement]) -> Requirement:
    """R-DOC-1: the kind named by the form, among those the programme asks of this owner."""
    raw = fields.get("kind")
    if raw is None:
        raise UploadInvalid.field("kind", "champ obligatoire manquant.")
    found = next((r for r in allowed if r.code == raw), None)
    if found is None:
        names = ", ".join(sorted(r.code for r in allowed)) or "aucune"
        raise UploadInvalid.field("kind", f"nature inconnue ici : {names} attendu.")
    return found


def _line_of(fields: dict[str, str], requirement: Requirement) -> uuid.UUID | None:
    raw = fields.get("expense_line_id")
    if not requirement.per_line:
        if raw:
            raise UploadInvalid.field(
                "expense_line_id", f"« {requirement.label} » ne vise pas une ligne."
            )
        return None
    if not raw:
        raise UploadInvalid.field(
            "expense_line_id", f"« {requirement.label} » vise une ligne de dépense."
        )
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise UploadInvalid.field("expense_line_id", "identifiant de ligne invalide.") from None


def _unexpected_fields(fields: dict[str, str]) -> None:
    for name in fields:
        if name not in ("kind", "expense_line_id"):
            raise UploadInvalid.field(name, "champ inconnu.")


async def _receive(
    body: AsyncIterator[bytes],
    content_type: str | None,
    storage: DocumentStorage,
    settings: Settings,
) -> tuple[dict[str, str], ReceivedFile]:
    form = await receive_form(
        body, content_type, storage=storage, max_bytes=settings.documents_max_bytes
    )
    if form.file is None:
        raise UploadInvalid.field("file", "fichier manquant.")
    return form.fields, form.file


async def upload_project_document(
    session: AsyncSession,
    principal: Principal,
    *,
    project_id: uuid.UUID,
    body: AsyncIterator[bytes],
    content_type: str | None,
    storage: DocumentStorage,
    settings: Settings,
) -> Document:
    """File a document on a dossier (R-DOC-2): streamed, hashed, typed from its bytes.

    404 outside scope (R-ACL-1), 413 past the size limit, 415 for a type not allowed, 409 when
    this caller may not file this kind in the dossier's state, 422 for a bad form."""
    await check_project_owner(session, principal, project_id=project_id)
    # Issue 24: the check's transaction ends before the body is read, so that no connection
    # (nor SQLite's lock) is held while a slow client sends it (StreamingSessionDep).
    await session.commit()
    fields, received = await _receive(body, content_type, storage, settings)
    try:
        _unexpected_fields(fields)
        # Read again, locked: the dossier may have moved on while the bytes arrived.
        project = await _project_in_scope(session, principal, project_id, for_update=True)
        required = await programme_requirements(session, project.programme_id)
        requirement = _requirement_of(fields, [r for r in required if r.owner is Owner.PROJECT])
        line_id = _line_of(fields, requirement)
        mime = _accepted(received, requirement)
        refusal = rules.project_upload_refusal(principal, requirement.step, project.status)
        if refusal is not None:
            raise UploadRefused(refusal)
        if line_id is not None:
            line = await session.get(ExpenseLine, line_id)
            if line is None or line.project_id != project.id:
                raise UploadInvalid.field("expense_line_id", "ligne inconnue de ce dossier.")
        key = rules.storage_key(project_id=project.id, candidate_id=None, sha256=received.sha256)
        await storage.promote(received.staging_key, key)
    except BaseException:
        await storage.discard(received.staging_key)
        raise
    return await _record(
        session,
        principal,
        owner={"project_id": project.id, "expense_line_id": line_id},
        departement=project.departement,
        kind=requirement.code,
        received=received,
        mime=mime,
        key=key,
        settings=settings,
    )


async def upload_candidate_document(
    session: AsyncSession,
    principal: Principal,
    *,
    candidate_id: uuid.UUID,
    body: AsyncIterator[bytes],
    content_type: str | None,
    storage: DocumentStorage,
    settings: Settings,
) -> Document:
    """File a candidate's own document (its attestation, R-ELIG-1, R-DOC-1): only the
    candidate itself files it (404 outside scope, 403 for another role)."""
    await check_candidate_owner(session, principal, candidate_id=candidate_id)
    # Issue 24: the check's transaction ends before the body is read, so that no connection
    # (nor SQLite's lock) is held while a slow client sends it (StreamingSessionDep).
    await session.commit()
    fields, received = await _receive(body, content_type, storage, settings)
    try:
        _unexpected_fields(fields)
        requirement = _requirement_of(fields, await candidate_requirements(session))
        _line_of(fields, requirement)
        mime = _accepted(received, requirement)
        candidate = await _candidate_in_scope(session, principal, candidate_id, for_update=True)
        key = rules.storage_key(project_id=None, candidate_id=candidate.id, sha256=received.sha256)
        await storage.promote(received.staging_key, key)
    except BaseException:
        await storage.discard(received.staging_key)
        raise
    return await _record(
        session,
        principal,
        owner={"candidate_id": candidate.id},
        departement=candidate.departement,
        kind=requirement.code,
        received=received,
        mime=mime,
        key=key,
        settings=settings,
    )


async def import_project_document(
    session: AsyncSession,
    principal: Principal,
    *,
    project: Project,
    kind: str,
    received: ReceivedFile,
    storage: DocumentStorage,
    settings: Settings,
) -> tuple[Document, bool]:
    """File a staged document fetched from démarches-simplifiées on a dossier (issue 24): typed
    from its bytes (415 R-DOC-2 raised otherwise), stored and scanned like an upload. The same
    bytes already filed as this kind on this dossier are not stored twice: that document is
    returned, with False (True: a new one, superseding the current version)."""
    try:
        required = await programme_requirements(session, project.programme_id)
        requirement = next((r for r in required if r.code == kind), None)
        mime = _accepted(received, requirement)
        existing = (
            (
                await session.execute(
                    select(Document).where(
                        col(Document.project_id) == project.id,
                        col(Document.kind) == kind,
                        col(Document.sha256) == received.sha256,
                    )
                )
            )
            .scalars()
            .first()
        )
        if existing is not None:
            await storage.discard(received.staging_key)
            return existing, False
        key = rules.storage_key(project_id=project.id, candidate_id=None, sha256=received.sha256)
        await storage.promote(received.staging_key, key)
    except BaseException:
        await storage.discard(received.staging_key)
        raise
    document = await _record(
        session,
        principal,
        owner={"project_id": project.id, "expense_line_id": None},
        departement=project.departement,
        kind=kind,
        received=received,
        mime=mime,
        key=key,
        settings=settings,
    )
    return document, True


def _accepted(received: ReceivedFile, requirement: Requirement | None) -> str:
    """R-DOC-2: the stored type of a file whose type, read from its bytes, and size the kind of
    document allows (any known type, the service's limit, for a kind the programme does not
    list: an attachment imported from démarches-simplifiées)."""
    allowed = requirement.allowed_types if requirement else tuple(DOCUMENT_TYPES)
    mime = rules.stored_type(received.detected_type, allowed)
    if mime is None:
        raise DocumentTypeRefused(received.detected_type, rules.types_fr(allowed))
    if requirement is not None and received.size > requirement.max_bytes:
        raise DocumentTooLarge(requirement.max_bytes)
    return mime


async def candidate_requirements(session: AsyncSession) -> list[Requirement]:
    """R-DOC-1: the kinds filed on a candidate, as the open programmes ask for them (the first
    programme to name a code gives its terms)."""
    found: dict[str, Requirement] = {}
    for data in (await session.execute(select(Programme.required_documents))).scalars():
        for requirement in requirements(data):
            if requirement.owner is Owner.CANDIDATE:
                found.setdefault(requirement.code, requirement)
    return list(found.values())


async def _record(
    session: AsyncSession,
    principal: Principal,
    *,
    owner: dict[str, Any],
    departement: str | None,
    kind: str,
    received: ReceivedFile,
    mime: str,
    key: str,
    settings: Settings,
) -> Document:
    """The new version's row; the current one of the same kind (and line) is superseded,
    kept (R-DOC-2: nothing overwritten)."""
    now = utcnow()
    document = Document(
        **owner,
        departement=departement,
        kind=kind,
        filename=rules.sanitise_filename(received.filename),
        content_type=mime,
        size_bytes=received.size,
        sha256=received.sha256,
        storage_key=key,
        scan_status=initial_scan_status(settings).value,
        scan_next_at=now,
        uploaded_by=principal.subject,
        uploaded_role=principal.role.value,
        created_at=now,
        updated_at=now,
    )
    session.add(document)
    await session.flush()
    same = [col(Document.kind) == kind, col(Document.superseded_at).is_(None)]
    same.append(col(Document.id) != document.id)
    for name, value in owner.items():
        column = col(getattr(Document, name))
        same.append(column == value if value is not None else column.is_(None))
    await session.execute(
        update(Document)
        .where(*same)
        .values(superseded_at=now, superseded_by=document.id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await audit_service.record(
        session,
        principal,
        object_type="document",
        object_id=document.id,
        departement=departement,
        action="uploaded",
        after={
            "kind": document.kind,
            "project_id": str(document.project_id) if document.project_id else None,
            "candidate_id": str(document.candidate_id) if document.candidate_id else None,
            "sha256": document.sha256,
            "size_bytes": document.size_bytes,
            "content_type": document.content_type,
        },
    )
    return document


# -- download (R-DOC-3) --------------------------------------------------------------------


async def open_for_download(
    session: AsyncSession,
    principal: Principal,
    *,
    document_id: uuid.UUID,
    settings: Settings,
    byte_range: str | None,
) -> tuple[Document, rules.ByteRange | None]:
    """A document in scope (else 404), servable (else 409 R-DOC-2), its range resolved (416
    when unsatisfiable); the read is audited (R-DOC-3: who read which document)."""
    document = await get_document(session, principal, document_id=document_id)
    status = ScanStatus(document.scan_status)
    if not rules.servable(status, production=settings.environment == "production"):
        raise DocumentNotServable(status.value)
    try:
        span = rules.parse_range(byte_range, document.size_bytes)
    except rules.RangeNotSatisfiable:
        raise RangeNotSatisfiable(document.size_bytes) from None
    await audit_service.record(
        session,
        principal,
        object_type="document",
        object_id=document.id,
        departement=document.departement,
        action="downloaded",
        after={
            "kind": document.kind,
            "sha256": document.sha256,
            "range": None if span is None else f"{span.start}-{span.end}",
        },
    )
    return document, span
