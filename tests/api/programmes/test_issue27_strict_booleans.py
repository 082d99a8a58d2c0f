"""R-PROG-1: a programme document's yes/no settings are JSON booleans; 0, 1 or "true" answer
422 (the fuzzer sent `share_capped: 0` and the service took it for false)."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from app.contract.example_bodies import PROGRAMME_DOCUMENT
from tests.conftest import Actors


def _document(where: str, value: Any) -> dict[str, Any]:
    document: dict[str, Any] = {**PROGRAMME_DOCUMENT, "code": "NUMERIQUE-STRICT-2026"}
    if where == "forfaits":
        document["strands"] = [{**document["strands"][0], "forfaits": value}]
    else:
        document["categories"] = [{**document["categories"][0], where: value}]
    return document


@pytest.mark.parametrize("where", ["excluded", "share_capped", "forfaits"])
@pytest.mark.parametrize("value", [0, 1, "true"])
async def test_r_prog_1_a_setting_that_is_not_a_boolean_is_refused(
    client: AsyncClient, headers: Any, actors: Actors, where: str, value: Any
) -> None:
    response = await client.post(
        "/api/v1/programmes", json=_document(where, value), headers=headers(actors.dinum)
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"].endswith(where), response.json()


async def test_r_prog_1_the_same_document_with_booleans_is_a_draft(
    client: AsyncClient, headers: Any, actors: Actors
) -> None:
    response = await client.post(
        "/api/v1/programmes", json=_document("share_capped", True), headers=headers(actors.dinum)
    )
    assert response.status_code == 201, response.text
