"""Documents of a dossier or a candidate: upload, list, read, download (R-DOC-1..3)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.types import DecoratedCallable
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import CurrentPrincipal, require_roles
from app.auth.principal import Principal, Role
from app.core import tags
from app.core.db import SessionDep, StreamingSessionDep
from app.core.errors import problems
from app.core.filters import UpdatedSince
from app.core.location import set_location
from app.core.pagination import CursorFormat, PageParams, page_params_for
from app.documents import access as documents_access, filing as documents_filing, rules
from app.documents.models import Document
from app.documents.schemas import AllowedUpload, DocumentList, DocumentRead
from app.documents.storage import DocumentStorage

router = APIRouter(tags=[tags.PIECES])

PROJECT_DOCUMENTS_CURSOR = CursorFormat("projectdocuments")
CANDIDATE_DOCUMENTS_CURSOR = CursorFormat("candidatedocuments")
ProjectFilers = Annotated[Principal, Depends(require_roles(Role.CANDIDATE, Role.PREFECT))]
CandidateFilers = Annotated[Principal, Depends(require_roles(Role.CANDIDATE))]


def storage_of(state: Any) -> DocumentStorage:
    """The app's document storage, built from its settings at first use."""
    storage: DocumentStorage | None = getattr(state, "document_storage", None)
    if storage is None:
        storage = DocumentStorage.from_settings(state.settings)
        state.document_storage = storage
    return storage


def get_storage(request: Request) -> DocumentStorage:
    return storage_of(request.app.state)


Storage = Annotated[DocumentStorage, Depends(get_storage)]


def _upload_body(owner: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["kind", "file"],
                        "properties": {
                            "kind": {
                                "type": "string",
                                "pattern": "^[a-z0-9_]{1,40}$",
                                "description": "Nature de la pièce (R-DOC-1) : le `code` d'une "
                                f"pièce du programme (`required_documents`) dont `owner` est "
                                f"`{owner}`.",
                            },
                            "expense_line_id": {
                                "type": "string",
                                "format": "uuid",
                                "description": "Ligne de dépense visée (un devis : obligatoire).",
                            },
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "Le fichier : un type que le programme accepte "
                                "pour cette nature (`allowed_types`), lu dans son contenu "
                                "(R-DOC-2), dans sa taille maximale (`max_bytes`).",
                            },
                        },
                    }
                }
            },
        }
    }


def document_read(document: Document) -> DocumentRead:
    return DocumentRead.model_validate(document, from_attributes=True)


def document_list(
    rows: list[Document], next_cursor: str | None, allowed: list[rules.Upload]
) -> DocumentList:
    return DocumentList(
        items=[document_read(d) for d in rows],
        next_cursor=next_cursor,
        allowed_uploads=[
            AllowedUpload(
                kind=u.requirement.code,
                label=u.requirement.label,
                step=u.requirement.step,
                expense_line_ids=None if u.expense_line_ids is None else list(u.expense_line_ids),
                allowed_types=list(u.requirement.allowed_types),
                max_bytes=u.requirement.max_bytes,
            )
            for u in allowed
        ],
    )


UPLOAD_PROBLEMS = problems(401, 403, 404, 409, 413, 415, 422)
Upload = Callable[..., Awaitable[Document]]


def _upload_route(
    path: str, summary: str, owner: str
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """The upload routes' common declaration: 201 with the document read, its problems, and a
    multipart body described by hand (the route reads the raw stream, not an `UploadFile`)."""
    return router.post(
        path,
        summary=summary,
        status_code=201,
        response_model=DocumentRead,
        responses=UPLOAD_PROBLEMS,
        openapi_extra=_upload_body(owner),
    )


async def _uploaded(
    upload: Upload,
    request: Request,
    response: Response,
    session: AsyncSession,
    principal: Principal,
    storage: DocumentStorage,
    **owner: uuid.UUID,
) -> DocumentRead:
    """Stream the request's body to the service's upload (`owner`: the dossier or the
    candidate), then answer the new document with its Location."""
    document = await upload(
        session,
        principal,
        **owner,
        body=request.stream(),
        content_type=request.headers.get("content-type"),
        storage=storage,
        settings=request.app.state.settings,
    )
    set_location(response, f"/documents/{document.id}")
    return document_read(document)


@_upload_route(
    "/projects/{project_id}/documents",
    "Déposer une pièce sur un dossier",
    "project",
)
async def upload_project_document(
    project_id: uuid.UUID,
    request: Request,
    response: Response,
    session: StreamingSessionDep,
    principal: ProjectFilers,
    storage: Storage,
) -> DocumentRead:
    """Déposer une pièce (multipart/form-data : `kind`, `expense_line_id` pour un devis,
    `file`). Le candidat dépose les pièces du dépôt tant que son dossier est un brouillon ;
    la préfecture, la convention signée puis les pièces du rapport final. Un nouveau dépôt de
    la même nature (et ligne) remplace le précédent, conservé. Le type est lu dans le
    contenu (415 sinon), la taille vérifiée pendant l'envoi (413 dès qu'elle est dépassée).

    Règles : R-DOC-1, R-DOC-2, R-ACL-1.
    """
    return await _uploaded(
        documents_filing.upload_project_document,
        request,
        response,
        session,
        principal,
        storage,
        project_id=project_id,
    )


@router.get(
    "/projects/{project_id}/documents",
    summary="Lister les pièces d'un dossier",
    response_model=DocumentList,
    responses=problems(401, 403, 404),
)
async def list_project_documents(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: Annotated[PageParams, Depends(page_params_for(PROJECT_DOCUMENTS_CURSOR))],
    updated_since: UpdatedSince = None,
) -> DocumentList:
    """Les pièces du dossier, versions remplacées comprises (`superseded_at`).

    Règles : R-DOC-3, R-ACL-1, R-SYNC-1.
    """
    rows, next_cursor, allowed = await documents_access.list_documents(
        session, principal, project_id=project_id, page=page, updated_since=updated_since
    )
    return document_list(rows, next_cursor, allowed)


@_upload_route(
    "/candidates/{candidate_id}/documents",
    "Déposer une pièce du candidat",
    "candidate",
)
async def upload_candidate_document(
    candidate_id: uuid.UUID,
    request: Request,
    response: Response,
    session: StreamingSessionDep,
    principal: CandidateFilers,
    storage: Storage,
) -> DocumentRead:
    """Déposer une pièce du candidat (celles du programme dont `owner` est `candidate`, comme
    l'attestation d'un organisme public, R-ELIG-1) : le candidat seul, pour lui-même. Un
    nouveau dépôt remplace le précédent, conservé.

    Règles : R-DOC-1, R-DOC-2, R-ACL-1.
    """
    return await _uploaded(
        documents_filing.upload_candidate_document,
        request,
        response,
        session,
        principal,
        storage,
        candidate_id=candidate_id,
    )


@router.get(
    "/candidates/{candidate_id}/documents",
    summary="Lister les pièces d'un candidat",
    response_model=DocumentList,
    responses=problems(401, 403, 404),
)
async def list_candidate_documents(
    candidate_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: Annotated[PageParams, Depends(page_params_for(CANDIDATE_DOCUMENTS_CURSOR))],
    updated_since: UpdatedSince = None,
) -> DocumentList:
    """Les pièces du candidat (son attestation), versions remplacées comprises.

    Règles : R-DOC-3, R-ACL-1, R-SYNC-1.
    """
    rows, next_cursor, allowed = await documents_access.list_documents(
        session, principal, candidate_id=candidate_id, page=page, updated_since=updated_since
    )
    return document_list(rows, next_cursor, allowed)


@router.get(
    "/documents/{document_id}",
    summary="Lire les métadonnées d'une pièce",
    response_model=DocumentRead,
    responses=problems(401, 403, 404),
)
async def read_document(
    document_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> DocumentRead:
    """Nature, nom, type, taille, empreinte, analyse antivirus d'une pièce de votre périmètre.

    Règles : R-DOC-3, R-ACL-1.
    """
    return document_read(
        await documents_access.get_document(session, principal, document_id=document_id)
    )


_CONTENT_HEADERS = {
    "Content-Disposition": {
        "description": "Toujours `attachment`, nom du fichier en UTF-8 (RFC 6266, `filename*`).",
        "schema": {"type": "string"},
    },
    "ETag": {"description": "L'empreinte SHA-256 du contenu.", "schema": {"type": "string"}},
    "Accept-Ranges": {"description": "`bytes`.", "schema": {"type": "string"}},
    "X-Document-Scan": {
        "description": "`unscanned` quand la pièce n'a pas été analysée (hors production).",
        "schema": {"type": "string"},
    },
}
_BINARY = {"*/*": {"schema": {"type": "string", "format": "binary"}}}


@router.get(
    "/documents/{document_id}/content",
    summary="Télécharger une pièce",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Le contenu, en pièce jointe, du type lu au dépôt.",
            "content": _BINARY,
            "headers": _CONTENT_HEADERS,
        },
        206: {
            "description": "Une plage du contenu (en-tête Range, une seule plage).",
            "content": _BINARY,
            "headers": _CONTENT_HEADERS,
        },
        **problems(401, 403, 404, 409, 416),
    },
)
async def download_document(
    document_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    storage: Storage,
    range_header: Annotated[
        str | None,
        Header(
            alias="Range",
            max_length=200,
            description="Une plage d'octets (`bytes=0-1023`, `bytes=1024-`, `bytes=-512`).",
        ),
    ] = None,
) -> StreamingResponse:
    """Le contenu d'une pièce de votre périmètre, jamais public, servi seulement une fois
    analysé sain (409 sinon : analyse en cours, ou infecté et en quarantaine). Chaque
    téléchargement est journalisé (qui a lu quelle pièce).

    Règles : R-DOC-3, R-DOC-2, R-ACL-1, R-AUDIT-1.
    """
    settings = request.app.state.settings
    document, span = await documents_access.open_for_download(
        session, principal, document_id=document_id, settings=settings, byte_range=range_header
    )
    headers = {
        "Content-Disposition": rules.content_disposition(document.filename),
        "X-Content-Type-Options": "nosniff",
        "ETag": f'"{document.sha256}"',
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-store",
    }
    if document.scan_status == rules.ScanStatus.UNSCANNED:
        headers["X-Document-Scan"] = "unscanned"
    if span is None:
        body = await storage.read(document.storage_key)
        headers["Content-Length"] = str(document.size_bytes)
        status = 200
    else:
        body = await storage.read(document.storage_key, start=span.start, end=span.end + 1)
        headers["Content-Length"] = str(span.length)
        headers["Content-Range"] = f"bytes {span.start}-{span.end}/{document.size_bytes}"
        status = 206
    return StreamingResponse(
        body, status_code=status, media_type=document.content_type, headers=headers
    )
