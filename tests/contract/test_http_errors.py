"""Errors outside the handlers' happy path still answer RFC 9457 problem+json.

API4: a body over the cap (1 MiB) answers 413 before parsing, with or without Content-Length.
API8: malformed JSON 422, unknown route 404, method tampering 405, and a 500 without internals.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response

from app.core.config import Settings
from app.core.errors import PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from app.main import create_app
from tests.conftest import Actors

CANDIDATES = "/api/v1/candidates"
MIB = 1_048_576


def assert_problem(response: Response, status: int, slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith(PROBLEM_BASE)
    assert {"title", "detail", "instance", "code", "errors"} <= body.keys()
    if slug is not None:
        assert body["type"] == PROBLEM_BASE + slug
    return body


def _big_json(size: int) -> bytes:
    """A syntactically valid JSON object of exactly `size` bytes."""
    head, tail = b'{"name": "', b'"}'
    return head + b"a" * (size - len(head) - len(tail)) + tail


async def test_body_over_1_mib_with_content_length_is_413(
    client: AsyncClient, actors: Actors, headers
) -> None:
    body = _big_json(MIB + 1)
    response = await client.post(
        CANDIDATES,
        content=body,
        headers={**headers(actors.cand_a), "Content-Type": "application/json"},
    )
    assert_problem(response, 413, "payload-too-large")
    assert response.json()["instance"] == CANDIDATES


async def test_body_over_1_mib_without_content_length_is_413(
    client: AsyncClient, actors: Actors, headers
) -> None:
    sent = 0

    async def chunked() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"name": "'
        for _ in range(40):  # 40 x 64 KiB = 2.5 MiB, far over the cap
            sent += 1
            yield b"a" * 65_536
        yield b'"}'

    response = await client.post(
        CANDIDATES,
        content=chunked(),
        headers={**headers(actors.cand_a), "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413, "payload-too-large")
    assert sent < 40, "the body should be refused as soon as it crosses the cap"


async def test_body_of_exactly_1_mib_is_parsed(
    client: AsyncClient, actors: Actors, headers
) -> None:
    response = await client.post(
        CANDIDATES,
        content=_big_json(MIB),
        headers={**headers(actors.cand_a), "Content-Type": "application/json"},
    )
    # Parsed, then refused by validation (name too long, siret missing): not a 413.
    body = assert_problem(response, 422, "validation-error")
    assert {e["field"] for e in body["errors"]} >= {"/name", "/siret"}


async def test_malformed_json_is_422(client: AsyncClient, actors: Actors, headers) -> None:
    response = await client.post(
        CANDIDATES,
        content=b'{"siret": "21130055300016", "kind": ',
        headers={**headers(actors.cand_a), "Content-Type": "application/json"},
    )
    body = assert_problem(response, 422, "validation-error")
    assert [e["code"] for e in body["errors"]] == ["json_invalid"]


@pytest.mark.parametrize("depth", [2_000, 100_000])
async def test_json_nesting_bomb_is_a_400_problem_never_a_500(
    client: AsyncClient, actors: Actors, headers, depth: int
) -> None:
    """API4: a body nested deeper than the parser's recursion limit is refused cleanly."""
    response = await client.post(
        CANDIDATES,
        content=b'{"siret": ' + b"[" * depth + b"]" * depth + b"}",
        headers={**headers(actors.cand_a), "Content-Type": "application/json"},
    )
    assert_problem(response, 400, "bad-request")


async def test_unknown_route_is_404(client: AsyncClient) -> None:
    response = await client.get("/api/v1/no-such-resource")
    body = assert_problem(response, 404, "not-found")
    assert body["instance"] == "/api/v1/no-such-resource"


async def test_trace_and_delete_on_programme_are_405(client: AsyncClient) -> None:
    for method in ("TRACE", "DELETE", "PUT"):
        response = await client.request(method, "/api/v1/programme")
        assert_problem(response, 405, "method-not-allowed")
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        assert {"GET", "PATCH"} <= allowed, method
        assert method not in allowed


async def test_unexpected_exception_is_500_without_internals(settings: Settings) -> None:
    app: FastAPI = create_app(settings)
    secret = "password=hunter2 at /srv/guichet/app/secret.py"

    @app.get("/api/v1/boom")
    async def boom() -> None:
        raise RuntimeError(secret)

    transport = ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.get("/api/v1/boom")
    finally:
        await app.state.engine.dispose()
    body = assert_problem(response, 500, "internal-error")
    assert body["errors"] == []
    for leak in ("Traceback", "RuntimeError", "hunter2", "secret.py", 'File "', "line "):
        assert leak not in response.text, leak
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
