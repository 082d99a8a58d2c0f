"""RFC 9457 problem+json: the error classes, their handlers and their OpenAPI description.

People read `detail` (French); machines read `type` (a stable URI) and `code` (the rule id of
DOMAIN.md where one applies, else a stable slug).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, IntegrityError, TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.observability import REQUEST_ID_MAX, current_request_id

logger = logging.getLogger("app.errors")

PROBLEM_BASE = "https://guichet-fitn7.numerique.gouv.fr/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


# Bounds of the problem fields (the contract states them; `problem_body` clips to them, so a
# long path, field name or message sent back to the client can never break the contract).
TYPE_MAX = 300
TITLE_MAX = 200
DETAIL_MAX = 4000
INSTANCE_MAX = 2048
CODE_MAX = 100
MESSAGE_MAX = 2000
FIELD_MAX = 1000


Location = Literal["body", "query", "path", "header"]


class ProblemItem(BaseModel):
    """Une règle ou un champ en échec : `{code, field, in, message}`, toujours les quatre."""

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "required": ["code", "field", "in", "message"],
            "examples": [
                {
                    "code": "R-ELIG-3",
                    "field": "/sponsor/name",
                    "in": "body",
                    "message": "Le dossier doit nommer son porteur (élu ou cadre dirigeant).",
                }
            ],
        },
    )

    code: str = Field(
        max_length=CODE_MAX,
        description="Identifiant de règle (R-…) ou type d'erreur de validation.",
    )
    message: str = Field(max_length=MESSAGE_MAX, description="Explication en français.")
    field: str = Field(
        default="",
        max_length=FIELD_MAX,
        description=(
            "Le champ en cause. Dans le corps (`in` = `body`) : un pointeur JSON (RFC 6901), "
            "par ex. `/strand` ou `/expense_lines/0/label` ; la chaîne vide désigne le dossier "
            "entier. Pour un paramètre d'URL, de chemin ou un en-tête : son nom tel qu'envoyé "
            "(`cursor`, `departement`, `If-Match`)."
        ),
    )
    location: Location = Field(
        default="body",
        alias="in",
        description="Où se trouve le champ : `body` (corps), `query`, `path` ou `header`.",
    )


class Problem(BaseModel):
    """Détail d'un problème (RFC 9457)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(max_length=TYPE_MAX, description="URI stable du type de problème.")
    title: str = Field(max_length=TITLE_MAX)
    status: int = Field(ge=400, le=599)
    detail: str = Field(
        max_length=DETAIL_MAX, description="Explication en français, pour les personnes."
    )
    instance: str | None = Field(default=None, max_length=INSTANCE_MAX)
    code: str = Field(
        max_length=CODE_MAX, description="Code stable pour les machines : id de règle ou slug."
    )
    errors: list[ProblemItem] = Field(default_factory=list)
    request_id: str | None = Field(
        default=None,
        max_length=REQUEST_ID_MAX,
        description="Identifiant de la requête (en-tête X-Request-ID de la réponse, journaux).",
    )


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters (an ellipsis marks the cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip_item(item: dict[str, Any]) -> dict[str, Any]:
    limits = {"code": CODE_MAX, "message": MESSAGE_MAX, "field": FIELD_MAX}
    return {
        k: clip(v, limits[k]) if k in limits and isinstance(v, str) else v for k, v in item.items()
    }


def problem_body(
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    instance: str,
    code: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The RFC 9457 body, every string clipped to the bounds the contract declares."""
    body: dict[str, Any] = {
        "type": clip(PROBLEM_BASE + slug, TYPE_MAX),
        "title": clip(title, TITLE_MAX),
        "status": status,
        "detail": clip(detail, DETAIL_MAX),
        "instance": clip(instance, INSTANCE_MAX),
        "code": clip(code or slug, CODE_MAX),
        "errors": [_clip_item(e) for e in errors or []],
    }
    request_id = current_request_id()
    if request_id is not None:  # `instance` stays the path; the id is an extension
        body["request_id"] = request_id
    if extensions:
        body.update({k: v for k, v in extensions.items() if k not in body})
    return body


class AppError(Exception):
    """Base of every expected error. Subclasses fix status, slug and title."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Requête invalide"
    default_detail: ClassVar[str] = "La requête est invalide."

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        errors: list[ProblemItem] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        self.detail = detail or self.default_detail
        self.code = code or self.slug
        self.errors = errors or []
        self.headers = headers or {}
        self.extensions = extensions
        super().__init__(self.detail)

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.slug


class Unauthenticated(AppError):
    status = 401
    slug = "unauthenticated"
    title = "Authentification requise"
    default_detail = "Un jeton d'accès valide est requis (en-tête Authorization: Bearer)."

    def __init__(self, detail: str | None = None, *, invalid_token: bool = True) -> None:
        header = 'Bearer error="invalid_token"' if invalid_token else "Bearer"
        super().__init__(detail, code="R-AUTH-1", headers={"WWW-Authenticate": header})


class Forbidden(AppError):
    status = 403
    slug = "forbidden"
    title = "Action interdite"
    default_detail = "Votre rôle ne permet pas cette action."


class NotFound(AppError):
    status = 404
    slug = "not-found"
    title = "Ressource introuvable"
    default_detail = "La ressource demandée n'existe pas ou n'est pas accessible."


class Conflict(AppError):
    status = 409
    slug = "conflict"
    title = "Conflit avec l'état actuel"
    default_detail = "La requête entre en conflit avec l'état actuel de la ressource."


UNIQUE_CONFLICT_DETAIL = (
    "Une autre requête vient de créer la même ressource : relisez-la puis recommencez si besoin."
)


class PreconditionFailed(AppError):
    status = 412
    slug = "precondition-failed"
    title = "Version périmée"
    default_detail = (
        "La ressource a été modifiée depuis votre lecture (If-Match ne correspond plus) : "
        "relisez-la puis recommencez."
    )


class PayloadTooLarge(AppError):
    status = 413
    slug = "payload-too-large"
    title = "Corps de requête trop volumineux"
    default_detail = "Le corps de la requête dépasse la taille autorisée."


class UnprocessableEntity(AppError):
    status = 422
    slug = "unprocessable"
    title = "Données refusées"
    default_detail = "Les données envoyées ne respectent pas les règles du guichet."


class PreconditionRequired(AppError):
    status = 428
    slug = "precondition-required"
    title = "En-tête If-Match requis"
    default_detail = (
        "Toute modification doit porter l'en-tête If-Match avec l'ETag lu sur la ressource."
    )


RETRY_AFTER_SECONDS = "1"


class ServiceUnavailable(AppError):
    """503, always with Retry-After (RFC 9110 §10.2.3)."""

    status = 503
    slug = "service-unavailable"
    title = "Service momentanément indisponible"
    default_detail = "Le service est momentanément indisponible : réessayez dans un instant."

    def __init__(self, detail: str | None = None, *, code: str | None = None) -> None:
        super().__init__(detail, code=code, headers={"Retry-After": RETRY_AFTER_SECONDS})


class DatabaseUnavailable(ServiceUnavailable):
    """The database could not be reached in time (refused, silent, dropped, pool exhausted)."""

    default_detail = "La base de données est momentanément injoignable : réessayez dans un instant."


_HTTP_TITLES = {
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


def _where(loc: tuple[int | str, ...]) -> tuple[str, str]:
    """(`in`, `field`) of a validation error: a body field by its JSON pointer (`/strand`), a
    query, path or header parameter by its name as sent (`updated_since`, `If-Match`).

    A cookie is a header (`Cookie`); the contract states no cookie parameter.
    """
    parts = [str(p) for p in loc]
    if parts and parts[0] in _LOCATIONS:
        where, rest = parts[0], parts[1:]
    else:
        where, rest = "body", parts
    if where == "cookie":
        return "header", "Cookie"
    if where != "body":
        return where, "/".join(rest)
    return where, json_pointer(rest)


_VALIDATION_FR = {
    "missing": "Champ obligatoire manquant.",
    "extra_forbidden": "Champ inconnu ou réservé au serveur : il ne peut pas être envoyé.",
    "json_invalid": "Le corps n'est pas un JSON valide.",
    "string_too_long": "Texte trop long.",
    "string_too_short": "Texte trop court.",
    "string_pattern_mismatch": "Format invalide.",
    "greater_than_equal": "Valeur trop petite.",
    "less_than_equal": "Valeur trop grande.",
    "int_parsing": "Un entier est attendu.",
    "enum": "Valeur non autorisée.",
    "literal_error": "Valeur non autorisée.",
    "uuid_parsing": "Identifiant (UUID) invalide.",
}


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
        slug, title, detail = _HTTP_TITLES[415]
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
    items = []
    for err in exc.errors():
        err_type = str(err.get("type", "invalid"))
        where, field = _where(tuple(err.get("loc", ())))
        items.append(
            {
                "code": err_type,
                "in": where,
                "field": field,
                "message": _VALIDATION_FR.get(err_type, str(err.get("msg", "Valeur invalide."))),
            }
        )
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
    slug, title, detail = _HTTP_TITLES.get(
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


UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE


def is_unique_violation(exc: IntegrityError) -> bool:
    """A UNIQUE or PRIMARY KEY constraint refused the row (PostgreSQL: SQLSTATE 23505;
    SQLite: « UNIQUE constraint failed »), not a NOT NULL, CHECK or foreign key."""
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code is not None:
        return bool(code == UNIQUE_VIOLATION)
    text = str(orig).lower()
    return "unique constraint" in text or "duplicate key" in text


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
    # Imported here: the middleware module imports this one.
    from app.core.middleware import SECURITY_HEADERS

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


def problem_ref(description: str) -> dict[str, Any]:
    """An OpenAPI response entry whose body is a Problem in application/problem+json."""
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


PROBLEM_DESCRIPTIONS: dict[int, str] = {
    400: "Requête mal formée.",
    401: "Jeton absent ou invalide (R-AUTH-1).",
    403: "Rôle sans droit sur cette action.",
    404: "Ressource inexistante ou hors de votre périmètre (R-ACL-1).",
    405: "Méthode non autorisée.",
    409: "Conflit avec l'état actuel (règle métier).",
    412: "If-Match périmé (R-FLOW-3).",
    413: "Corps trop volumineux.",
    415: "Type de contenu non pris en charge.",
    416: "Plage (Range) hors du document.",
    422: "Données invalides ou refusées par une règle : voir `errors`.",
    428: "If-Match manquant (R-FLOW-3).",
    500: "Erreur interne.",
    502: "Service externe (démarches-simplifiées) en erreur : rien n'a été écrit.",
    503: "Service indisponible (base injoignable, verrou, délai dépassé).",
}


def problems(
    *statuses: int, examples: dict[int, dict[str, Any]] | None = None
) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries documenting these problem statuses on a route.

    Each one carries a problem+json example: the status's usual one (`problem_example`), or the
    one given in `examples` for this route (a specific rule, its French detail and errors).
    """
    entries: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry = problem_ref(PROBLEM_DESCRIPTIONS[status])
        if examples and status in examples:
            entry["content"][PROBLEM_MEDIA_TYPE]["example"] = examples[status]
        entries[status] = entry
    return entries


# -- examples of the contract --------------------------------------------------------------------

_EXAMPLE_REQUEST_ID = "01JDZ8V4KQ3M2N5P7R9S1T3V5X"

# status -> (slug, title, detail, code, errors, extensions): what the server answers most often
# with this status. `problem_example` fills in the operation's path as `instance`.
_EXAMPLES: dict[int, tuple[str, str, str, str, list[dict[str, str]], dict[str, Any]]] = {
    400: (
        "bad-request",
        "Requête invalide",
        "La requête est mal formée.",
        "bad-request",
        [],
        {},
    ),
    401: (
        "unauthenticated",
        "Authentification requise",
        "Un jeton d'accès valide est requis (en-tête Authorization: Bearer).",
        "R-AUTH-1",
        [],
        {},
    ),
    403: (
        "forbidden",
        "Action interdite",
        "Action réservée aux rôles : préfet.",
        "forbidden-role",
        [],
        {},
    ),
    404: (
        "not-found",
        "Ressource introuvable",
        "La ressource demandée n'existe pas ou n'est pas accessible.",
        "R-ACL-1",
        [],
        {},
    ),
    405: (
        "method-not-allowed",
        "Méthode non autorisée",
        "Cette méthode n'est pas permise ici.",
        "method-not-allowed",
        [],
        {},
    ),
    409: (
        "conflict",
        "Conflit avec l'état actuel",
        "La requête entre en conflit avec l'état actuel de la ressource.",
        "conflict",
        [],
        {},
    ),
    412: (
        "precondition-failed",
        "Version périmée",
        PreconditionFailed.default_detail,
        "R-FLOW-3",
        [],
        {"current_etag": '"v4"'},
    ),
    413: (
        PayloadTooLarge.slug,
        PayloadTooLarge.title,
        PayloadTooLarge.default_detail,
        PayloadTooLarge.slug,
        [],
        {},
    ),
    415: (
        "unsupported-media-type",
        "Type de contenu non pris en charge",
        "Le corps doit être envoyé en JSON (Content-Type: application/json).",
        "unsupported-media-type",
        [
            {
                "code": "unsupported-media-type",
                "field": "Content-Type",
                "in": "header",
                "message": "Envoyez le corps en application/json.",
            }
        ],
        {},
    ),
    416: (
        "range-not-satisfiable",
        "Plage non satisfaisable",
        "La plage demandée (en-tête Range) est hors du document (48213 octets).",
        "range-not-satisfiable",
        [],
        {},
    ),
    422: (
        "validation-error",
        "Requête invalide",
        "Certains champs sont invalides : voir `errors`.",
        "validation-error",
        [
            {
                "code": "missing",
                "field": "/title",
                "in": "body",
                "message": "Champ obligatoire manquant.",
            }
        ],
        {},
    ),
    428: (
        PreconditionRequired.slug,
        PreconditionRequired.title,
        PreconditionRequired.default_detail,
        "R-FLOW-3",
        [],
        {},
    ),
    429: (
        "too-many-requests",
        "Trop de requêtes",
        "Trop de requêtes (écritures) : 60 par minute au plus. Réessayez dans 12 s.",
        "too-many-requests",
        [],
        {"retry_after_seconds": 12},
    ),
    500: (
        "internal-error",
        "Erreur interne",
        "Une erreur inattendue est survenue ; elle a été journalisée.",
        "internal-error",
        [],
        {},
    ),
    502: (
        "ds-failed",
        "Échec de démarches-simplifiées",
        "démarches-simplifiées a répondu par une erreur (GraphQL : « Dossier introuvable ») : "
        "rien n'a été importé.",
        "ds-failed",
        [],
        {},
    ),
    503: (
        ServiceUnavailable.slug,
        ServiceUnavailable.title,
        DatabaseUnavailable.default_detail,
        ServiceUnavailable.slug,
        [],
        {},
    ),
}

# 400 where the operation reads If-Match: the malformed ETag (app.core.concurrency).
MALFORMED_ETAG_EXAMPLE = (
    "malformed-etag",
    "ETag mal formé",
    'ETag mal formé : attendu "v2" (l\'ETag lu sur la ressource, guillemets compris).',
    "R-FLOW-3",
    [
        {
            "code": "R-FLOW-3",
            "field": "If-Match",
            "in": "header",
            "message": 'Un ETag entre guillemets est attendu, par ex. "v2".',
        }
    ],
    {"current_etag": '"v2"'},
)


def example_problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    code: str,
    *,
    instance: str,
    errors: list[dict[str, str]] | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    """A route's own problem+json example, for `problems(..., examples={status: ...})`."""
    return {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        "errors": errors or [],
        "request_id": _EXAMPLE_REQUEST_ID,
        **extensions,
    }


def problem_example(status: int, instance: str, *, if_match: bool = False) -> dict[str, Any]:
    """A realistic problem+json body for `status` on the operation at `instance`."""
    known = MALFORMED_ETAG_EXAMPLE if status == 400 and if_match else _EXAMPLES.get(status)
    if known is None:
        slug, title, detail = _HTTP_TITLES.get(status, ("http-error", "Erreur", "Erreur."))
        known = (slug, title, detail, slug, [], {})
    slug, title, detail, code, errors, extensions = known
    return {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        "errors": errors,
        "request_id": _EXAMPLE_REQUEST_ID,
        **extensions,
    }
