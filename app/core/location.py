"""`Location` on every 201 (issue 12, RFC 9110 §10.2.2): the URL to read what was created.

`build_openapi` documents the header on every 201 of the contract (`LOCATION_HEADER`); each
creating route sets it with `set_location`, its idempotent replays too (`located`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

API_PREFIX = "/api/v1"
LOCATION_HEADER: dict[str, Any] = {
    "description": (
        "Chemin de la ressource créée, à lire par GET (pour un paiement, la subvention du dossier "
        "qui le liste ; pour une allocation, l'enveloppe du département). Présent aussi quand "
        "la réponse rejoue une requête idempotente."
    ),
    "schema": {"type": "string", "format": "uri-reference"},
}


def set_location(response: Response, path: str) -> None:
    """`path` is under the API prefix (e.g. "/projects/{id}")."""
    response.headers["Location"] = f"{API_PREFIX}{path}"


def located(
    response: Response,
    result: BaseModel | JSONResponse,
    path_of: Callable[[dict[str, Any]], str],
) -> BaseModel | JSONResponse:
    """Set Location on a run_idempotent answer: the new object, or the stored one replayed."""
    if isinstance(result, JSONResponse):
        body = json.loads(bytes(result.body))
        result.headers["Location"] = f"{API_PREFIX}{path_of(body)}"
        return result
    set_location(response, path_of(result.model_dump(mode="json")))
    return result
