"""The usual problem+json example of each error status, shown by the contract wherever a route
gives none of its own (issue 12): what the server answers most often with that status.
"""

from __future__ import annotations

from typing import Any

from app.core.errors import (
    DatabaseUnavailable,
    PayloadTooLarge,
    PreconditionFailed,
    PreconditionRequired,
    ServiceUnavailable,
    example_problem,
)
from app.core.exception_handlers import HTTP_TITLES

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
        [
            {
                "code": "R-FLOW-3",
                "field": "If-Match",
                "in": "header",
                "message": "En-tête If-Match manquant : renvoyez l'ETag lu sur la ressource "
                '(en-tête ETag de sa lecture, par ex. "v3").',
            }
        ],
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


def problem_example(status: int, instance: str, *, if_match: bool = False) -> dict[str, Any]:
    """A realistic problem+json body for `status` on the operation at `instance`."""
    known = MALFORMED_ETAG_EXAMPLE if status == 400 and if_match else _EXAMPLES.get(status)
    if known is None:
        slug, title, detail = HTTP_TITLES.get(status, ("http-error", "Erreur", "Erreur."))
        known = (slug, title, detail, slug, [], {})
    slug, title, detail, code, errors, extensions = known
    return example_problem(
        status, slug, title, detail, code, instance=instance, errors=errors, **extensions
    )
