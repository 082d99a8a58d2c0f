"""`Location` on every 201 (issue 12, RFC 9110 §10.2.2): the URL to read what was created.

`build_openapi` documents the header on every 201 of the contract (`LOCATION_HEADER`); each
creating route sets it with `set_location`, its idempotent replays too
(`app.core.idempotency.run_idempotent` stores it with the answer).
"""

from __future__ import annotations

from typing import Any

from fastapi import Response

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
