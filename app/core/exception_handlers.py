"""Every exception the app lets out, answered as problem+json (RFC 9457): an AppError as it
says, a validation error translated to French (`errors` with a JSON pointer per field), an HTTP
error of the router (404, 405 with Allow, 415), a database error (503 when transient, 409 for a
unique violation) and anything else as a logged 500 that shows no internals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import DBAPIError, IntegrityError, TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.db import is_unique_violation
from app.core.errors import (
    PROBLEM_MEDIA_TYPE,
    RETRY_AFTER_SECONDS,
    UNIQUE_CONFLICT_DETAIL,
    AppError,
    Conflict,
    DatabaseUnavailable,
    PayloadTooLarge,
    ServiceUnavailable,
    problem_body,
)
from app.core.middleware import SECURITY_HEADERS
from app.core.validation_fr import body_pointer, french_message

logger = logging.getLogger("app.errors")


HTTP_TITLES = {
    400: ("bad-request", "Requête invalide", "La requête est mal formée."),
    404: ("not-found", "Ressource introuvable", "Aucune ressource à cette adresse."),
    405: ("method-not-allowed", "Méthode non autorisée", "Cette méthode n'est pas permise ici."),
    406: ("not-acceptable", "Format non disponible", "Le format demandé n'est pas disponible."),
    413: (PayloadTooLarge.slug, PayloadTooLarge.title, PayloadTooLarge.default_detail),
    415: (
        "unsupported-media-type",
        "Type de contenu non pris en charge",
        "Le corps doit être envoyé en JSON (Content-Type: application/json).",
    ),
}


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    code: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    body = problem_body(
        status=status,
        slug=slug,
        title=title,
        detail=detail,
        instance=request.url.path,
        code=code,
        errors=errors,
        extensions=extensions,
    )
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


async def _app_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(
        request,
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        code=exc.code,
        errors=[e.model_dump(exclude_none=True, by_alias=True) for e in exc.errors],
        headers=exc.headers,
        extensions=exc.extensions,
    )


_LOCATIONS = {"body", "query", "path", "header", "cookie"}


def json_pointer(parts: list[str]) -> str:
    """RFC 6901 pointer of a path of keys (`["lines", "0"]` -> `/lines/0`; `[]` -> "")."""
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def _where(loc: tuple[int | str, ...], body: Any = None) -> tuple[str, str]:
    """(`in`, `field`) of a validation error: a body field by its JSON pointer (`/strand`, as
    sent: no union tag of pydantic's), a query, path or header parameter by its name as sent
    (`updated_since`, `If-Match`).

    A cookie is a header (`Cookie`); the contract states no cookie parameter.
    """
    parts = list(loc)
    if parts and parts[0] in _LOCATIONS:
        where, rest = str(parts[0]), parts[1:]
    else:
        where, rest = "body", parts
    if where == "cookie":
        return "header", "Cookie"
    if where != "body":
        return where, "/".join(str(p) for p in rest)
    return where, json_pointer(body_pointer(rest, body))


# json.JSONDecodeError's reasons, in French (the others are told without a reason).
_JSON_REASONS = {
    "Expecting value": "valeur attendue",
    "Expecting property name enclosed in double quotes": "nom de propriété entre guillemets "
    "doubles attendu",
    "Expecting ',' delimiter": "virgule attendue",
    "Expecting ':' delimiter": "deux-points attendu",
    "Extra data": "données après la fin du JSON",
    "Unterminated string starting at": "texte non terminé",
    "Invalid control character at": "caractère de contrôle non échappé dans un texte",
    "Invalid \\escape": "séquence d'échappement invalide",
}


def _json_invalid_message(err: dict[str, Any], doc: Any) -> str:
    """Where a body stops being JSON, by line and column (1-based), never a fake pointer."""
    reason = _JSON_REASONS.get(str((err.get("ctx") or {}).get("error", "")))
    reason_text = f" : {reason}" if reason else ""
    loc = tuple(err.get("loc", ()))
    pos = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    if pos is None or not isinstance(doc, str):
        return f"Le corps n'est pas un JSON valide{reason_text}."
    line = doc.count("\n", 0, pos) + 1
    column = pos - (doc.rfind("\n", 0, pos) + 1) + 1
    return f"Le corps n'est pas un JSON valide{reason_text} (ligne {line}, colonne {column})."


def _validation_item(err: dict[str, Any], body: Any) -> dict[str, Any]:
    err_type = str(err.get("type", "invalid"))
    if err_type == "json_invalid":
        # FastAPI's location is ("body", character offset): the body as a whole, by line and
        # column in the message.
        message = _json_invalid_message(err, body)
        return {"code": err_type, "in": "body", "field": "", "message": message}
    where, field = _where(tuple(err.get("loc", ())), body)
    return {"code": err_type, "in": where, "field": field, "message": french_message(err)}


def is_json_media_type(content_type: str) -> bool:
    """application/json or any application/…+json, parameters ignored (as FastAPI parses)."""
    media = content_type.split(";", 1)[0].strip().lower()
    maintype, _, subtype = media.partition("/")
    return maintype == "application" and (subtype == "json" or subtype.endswith("+json"))


def _body_not_json(request: Request, exc: RequestValidationError) -> bool:
    """The body failed because it was not sent as JSON: FastAPI reads it as JSON only when the
    Content-Type says so, and hands the raw bytes to validation otherwise."""
    if not any(err.get("loc", ())[:1] == ("body",) for err in exc.errors()):
        return False
    content_type = request.headers.get("content-type")
    if content_type is not None and not is_json_media_type(content_type):
        return True
    return isinstance(exc.body, bytes | bytearray) and bool(exc.body)


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if _body_not_json(request, exc):
        # A JSON body sent under another media type (text/plain, a form, none at all) is not
        # "a missing field": 415, whatever the fields would have been.
        slug, title, detail = HTTP_TITLES[415]
        return problem_response(
            request,
            status=415,
            slug=slug,
            title=title,
            detail=detail,
            errors=[
                {
                    "code": slug,
                    "in": "header",
                    "field": "Content-Type",
                    "message": "Envoyez le corps en application/json.",
                }
            ],
        )
    items = [_validation_item(dict(err), exc.body) for err in exc.errors()]
    return problem_response(
        request,
        status=422,
        slug="validation-error",
        title="Requête invalide",
        detail="Certains champs sont invalides : voir `errors`.",
        code="validation-error",
        errors=items,
    )


def _allowed_methods(request: Request) -> str | None:
    """Every method served at this path (RFC 9110 §15.5.6).

    The router stops at the first route whose path matches, so its own 405 lists that route's
    methods only (`GET` for /programme, which also serves `PATCH`).
    """
    path = request.scope.get("path", "")
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        regex = getattr(context, "path_regex", None)
        if regex is not None and context.methods and regex.match(path):
            methods |= context.methods
    return ", ".join(sorted(methods)) or None


async def _http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug, title, detail = HTTP_TITLES.get(
        exc.status_code, ("http-error", "Erreur", str(exc.detail))
    )
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        if allowed:
            headers["Allow"] = allowed
    return problem_response(
        request,
        status=exc.status_code,
        slug=slug,
        title=title,
        detail=detail,
        headers=headers or None,
    )


def _is_transient(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    return any(
        marker in text
        for marker in (
            "database is locked",
            "statement timeout",
            "canceling statement",
            "querycancelederror",
            "too many connections",
            "deadlock detected",
            # the server went away under an open connection, or the SQLite file cannot be opened
            "terminating connection",
            "connection was closed",
            "connection is closed",
            "connection reset",
            "unable to open database file",
        )
    )


def _unavailable(request: Request, detail: str) -> JSONResponse:
    return problem_response(
        request,
        status=503,
        slug=ServiceUnavailable.slug,
        title=ServiceUnavailable.title,
        detail=detail,
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


async def _db_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if exc.connection_invalidated or _is_transient(exc):
        logger.warning("transient database error on %s: %s", request.url.path, exc.orig)
        return _unavailable(request, ServiceUnavailable.default_detail)
    if isinstance(exc, IntegrityError) and is_unique_violation(exc):
        # Issue 23: a row created under a natural key that a concurrent request created first.
        # The services map the ones they expect to their rule (`app.core.db.add_unique`); this
        # is the net under the others: a 409, never a 500.
        logger.warning("unique violation on %s: %s", request.url.path, exc.orig)
        return problem_response(
            request,
            status=Conflict.status,
            slug=Conflict.slug,
            title=Conflict.title,
            detail=UNIQUE_CONFLICT_DETAIL,
            code=Conflict.slug,
        )
    return await _unexpected_handler(request, exc)


async def _pool_timeout_handler(request: Request, exc: Exception) -> JSONResponse:
    """Every pooled connection stayed busy past the pool timeout: 503, not a 500."""
    logger.warning("database pool exhausted on %s: %s", request.url.path, exc)
    return _unavailable(request, DatabaseUnavailable.default_detail)


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    # Starlette sends this response from its outermost ServerErrorMiddleware, past every app
    # middleware: the security headers have to be set here.
    headers = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}
    return problem_response(
        request,
        status=500,
        slug="internal-error",
        title="Erreur interne",
        detail="Une erreur inattendue est survenue ; elle a été journalisée.",
        headers={**headers, "Cache-Control": "no-store"},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(DBAPIError, _db_error_handler)
    app.add_exception_handler(PoolTimeoutError, _pool_timeout_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
