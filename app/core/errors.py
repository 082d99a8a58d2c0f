"""RFC 9457 problem+json: the Problem model, the error classes and their OpenAPI description.

People read `detail` (French); machines read `type` (a stable URI) and `code` (the rule id of
DOMAIN.md where one applies, else a stable slug). `app.core.exception_handlers` turns every
exception into such a body; `app.contract.problem_examples` holds each status's usual example.
"""

from __future__ import annotations

import unicodedata
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.observability import REQUEST_ID_MAX, current_request_id

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


def challenge_text(text: str) -> str:
    """`text` as an RFC 6750 `error_description` may hold it: US-ASCII without `"` nor `\\`
    (%x20-21 / %x23-5B / %x5D-7E), accents folded ("expiré" -> "expire")."""
    folded = unicodedata.normalize("NFKD", text).replace('"', "'").replace("\\", "/")
    return "".join(c for c in folded if " " <= c <= "~")


class Unauthenticated(AppError):
    """401 with its challenge (RFC 6750 §3): plain `Bearer` when no token was sent, else
    `Bearer error="invalid_token", error_description="…"` saying why this token was refused
    (expired, bad signature, a claim missing…: the French detail, folded to ASCII)."""

    status = 401
    slug = "unauthenticated"
    title = "Authentification requise"
    default_detail = "Un jeton d'accès valide est requis (en-tête Authorization: Bearer)."

    def __init__(self, detail: str | None = None, *, invalid_token: bool = True) -> None:
        header = "Bearer"
        if invalid_token:
            why = challenge_text(detail or self.default_detail)
            header = f'Bearer error="invalid_token", error_description="{why}"'
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


# -- a route's own example -------------------------------------------------------------------------

_EXAMPLE_REQUEST_ID = "01JDZ8V4KQ3M2N5P7R9S1T3V5X"


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
