"""GET /open-data/subventions.csv and .json: public, anonymous, streamed, conditional."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import tags
from app.core.db import get_session, read_only_transaction
from app.core.errors import problems
from app.core.schemas import IsoDate
from app.opendata import (
    publish as _publish,  # noqa: F401 - its import registers the rows' writer (issue 28)
    service as opendata_service,
)
from app.opendata.repository import ExportFilter
from app.opendata.schemas import SubventionRecord
from app.programme.dependencies import ALL_PROGRAMMES, SCOPE_PATTERN, default_code, programme_named
from app.reference.departements import DepartementQuery

router = APIRouter(prefix="/open-data", tags=[tags.DONNEES_OUVERTES])

# The default (request) scope: the session, its transaction and its server-side cursor live
# until the streamed body has been sent (SessionDep closes before the response goes out).
StreamSession = Annotated[AsyncSession, Depends(get_session)]
SignedFrom = Annotated[
    IsoDate | None,
    Query(alias="from", description="Conventions signées à partir de ce jour (inclus)."),
]
SignedTo = Annotated[
    IsoDate | None,
    Query(alias="to", description="Conventions signées jusqu'à ce jour (inclus)."),
]
ExportProgramme = Annotated[
    str | None,
    Query(
        alias="programme",
        pattern=SCOPE_PATTERN,
        description="Code du programme : ses seules subventions. Par défaut (ou `*`), les "
        "subventions de tous les programmes, comme avant qu'il y en ait plusieurs (les "
        "moissonneurs existants reçoivent le même jeu). Un code inconnu : 404 (R-PROG-2).",
    ),
]
CACHE_CONTROL = "public, no-cache"  # harvesters may keep it, and revalidate (304) each time
_VALIDATORS: dict[str, Any] = {
    "ETag": {
        "description": "Empreinte de l'export : renvoyez-la en If-None-Match.",
        "schema": {"type": "string"},
    },
    "Last-Modified": {
        "description": "Dernière modification d'une ligne de l'export.",
        "schema": {"type": "string"},
    },
}
_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {
        "description": "Inchangé depuis If-None-Match / If-Modified-Since.",
        "headers": _VALIDATORS,
    }
}


def _not_modified(request: Request, etag: str, last_modified: datetime) -> bool:
    """RFC 9110 §13.1.2/§13.1.3: If-None-Match wins; If-Modified-Since only without it."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        entity_tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in entity_tags or etag in entity_tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return last_modified <= since
    return False


async def _export(
    request: Request,
    session: AsyncSession,
    f: ExportFilter,
    *,
    programme: str | None,
    variant: str,
    media_type: str,
) -> Response:
    await read_only_transaction(session)  # SQLite: the export never holds the write lock
    if programme is not None and programme != ALL_PROGRAMMES:  # R-PROG-2: one programme's
        found = await programme_named(session, programme, default_code(request))
        f = replace(f, programme_id=found.id)
    fresh = await opendata_service.freshness(session, f, variant=variant)
    headers = {
        "ETag": fresh.etag,
        "Last-Modified": format_datetime(fresh.last_modified, usegmt=True),
        "Cache-Control": CACHE_CONTROL,
    }
    if _not_modified(request, fresh.etag, fresh.last_modified):
        return Response(status_code=304, headers=headers)
    stream = (
        opendata_service.csv_chunks(session, f)
        if variant == "csv"
        else opendata_service.json_chunks(session, f)
    )
    return StreamingResponse(stream, media_type=media_type, headers=headers)


def _filter(
    departement: str | None, signed_from: date | None, signed_to: date | None
) -> ExportFilter:
    return ExportFilter(departement=departement, signed_from=signed_from, signed_to=signed_to)


@router.get(
    "/subventions.csv",
    summary="Télécharger les subventions attribuées (CSV)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Subventions attribuées, SCDL « subventions » 2.1.1 (CSV UTF-8).",
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "headers": _VALIDATORS,
        },
        **_NOT_MODIFIED,
        **problems(404, 422),
    },
)
async def read_subventions_csv(
    request: Request,
    session: StreamSession,
    departement: DepartementQuery = None,
    signed_from: SignedFrom = None,
    signed_to: SignedTo = None,
    programme: ExportProgramme = None,
) -> Response:
    """Les subventions attribuées avec une convention signée (hors annulées), au format SCDL
    « subventions » 2.1.1 : UTF-8, virgule, point décimal, euros à deux décimales. Public.

    Filtres : `departement`, `programme` (R-PROG-2 ; par défaut tous les programmes), `from`
    et `to` sur la date de la convention. `ETag` et
    `Last-Modified` permettent de ne retélécharger qu'en cas de changement (304).

    Règles : R-PAY-3 (conventions signées), R-CAP-1.
    """
    return await _export(
        request,
        session,
        _filter(departement, signed_from, signed_to),
        programme=programme,
        variant="csv",
        media_type="text/csv; charset=utf-8",
    )


@router.get(
    "/subventions.json",
    summary="Télécharger les subventions attribuées (JSON)",
    response_model=list[SubventionRecord],
    responses={
        200: {
            "description": "Les mêmes lignes en JSON, plus le taux d'aide et le volet.",
            "headers": _VALIDATORS,
        },
        **_NOT_MODIFIED,
        **problems(404, 422),
    },
)
async def read_subventions_json(
    request: Request,
    session: StreamSession,
    departement: DepartementQuery = None,
    signed_from: SignedFrom = None,
    signed_to: SignedTo = None,
    programme: ExportProgramme = None,
) -> Response:
    """Les mêmes subventions en JSON (tableau d'objets SCDL typés), avec en plus `tauxAide`
    (subvention / coût éligible) et `volet`. Public. Mêmes filtres (`programme` : par défaut
    tous les programmes, R-PROG-2).

    Règles : R-PAY-3 (conventions signées), R-CAP-1.
    """
    return await _export(
        request,
        session,
        _filter(departement, signed_from, signed_to),
        programme=programme,
        variant="json",
        media_type="application/json",
    )
