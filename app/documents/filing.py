"""Filing documents: an upload or a DS import received, judged and recorded (R-DOC-1, R-DOC-2).

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
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.audit import service as audit_service
from app.auth.principal import Principal
from app.core.config import Settings
from app.core.types import utcnow
from app.documents import rules
from app.documents.access import (
    candidate_in_scope,
    check_candidate_owner,
    check_project_owner,
    project_in_scope,
)
from app.documents.errors import (
    DocumentTooLarge,
    DocumentTypeRefused,
    UploadInvalid,
    UploadRefused,
)
from app.documents.models import Document
from app.documents.requirements import candidate_requirements, programme_requirements
from app.documents.rules import ScanStatus
from app.documents.storage import DocumentStorage
from app.documents.upload import ReceivedFile, receive_form
from app.programme.rules import DOCUMENT_TYPES, Owner, Requirement
from app.projects.models import ExpenseLine, Project


def initial_scan_status(settings: Settings) -> ScanStatus:
    """R-DOC-2: pending until the scanner's verdict; `unscanned` when none is configured."""
    return ScanStatus.PENDING if settings.documents_scanner_url else ScanStatus.UNSCANNED


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
        project = await project_in_scope(session, principal, project_id, for_update=True)
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
        candidate = await candidate_in_scope(session, principal, candidate_id, for_update=True)
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
