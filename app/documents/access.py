"""Who reaches a document, and how (R-DOC-3 = R-ACL-1 of its owner): one in scope, the lists of
a dossier's or a candidate's documents, and the download of a clean one (ranges, R-DOC-2).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.audit import service as audit_service
from app.auth.principal import Principal, Role
from app.candidates import repository as candidates_repository
from app.candidates.errors import CandidateNotFound
from app.candidates.models import Candidate
from app.core.config import Settings
from app.core.pagination import PageParams, keyset_page, split_page
from app.documents import rules
from app.documents.errors import (
    DocumentNotFound,
    DocumentNotServable,
    RangeNotSatisfiable,
)
from app.documents.models import Document
from app.documents.requirements import candidate_requirements, lines_of, programme_requirements
from app.documents.rules import ScanStatus
from app.programme.rules import Owner
from app.projects import repository as projects_repository
from app.projects.errors import ProjectNotFound
from app.projects.models import Project

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


async def project_in_scope(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID, *, for_update: bool
) -> Project:
    project = await projects_repository.get_visible_project(
        session, principal, project_id, for_update=for_update
    )
    if project is None:
        raise ProjectNotFound(code="R-ACL-1")
    return project


async def candidate_in_scope(
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
    await project_in_scope(session, principal, project_id, for_update=False)


async def check_candidate_owner(
    session: AsyncSession, principal: Principal, *, candidate_id: uuid.UUID
) -> None:
    await candidate_in_scope(session, principal, candidate_id, for_update=False)


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
        project = await project_in_scope(session, principal, project_id, for_update=False)
        stmt = stmt.where(col(Document.project_id) == project_id)
        allowed = await _project_uploads(session, principal, project)
    if candidate_id is not None:
        candidate = await candidate_in_scope(session, principal, candidate_id, for_update=False)
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
