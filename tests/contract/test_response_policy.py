"""Issue 8 item 8: responses produced outside the route handlers follow the same policy as the
others: problem+json (RFC 9457), Retry-After on every 503, and the security headers.

- too many requests in flight: our own limiter answers 503 problem+json (uvicorn's own limit,
  text/plain, is set far above it: see tests/contract/test_server.py);
- a refused CORS preflight: 400 problem+json with the security headers.
"""

from __future__ import annotations

import asyncio
from typing import Any

from httpx import ASGITransport, AsyncClient, Response

from app.core.errors import PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from app.core.middleware import SECURITY_HEADERS
from app.main import create_app
from tests.support import test_settings

ORIGIN = "https://front.guichet.example"


def assert_security_headers(response: Response) -> None:
    for name, value in SECURITY_HEADERS:
        assert response.headers[name.decode()] == value.decode(), name
    assert response.headers["cache-control"] == "no-store"


def assert_problem(response: Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"] == PROBLEM_BASE + slug
    assert_security_headers(response)
    return body


async def test_requests_over_the_in_flight_limit_answer_503_problem_with_retry_after(
    database_url: str,
) -> None:
    app = create_app(test_settings(database_url, max_in_flight_requests=2))
    release = asyncio.Event()
    entered = 0

    @app.get("/hold")
    async def hold() -> dict[str, int]:
        nonlocal entered
        entered += 1
        await release.wait()
        return {"ok": 1}

    transport = ASGITransport(app=app)
    try:
        async with AsyncClient(transport=transport, base_url="http://test") as http:
            held = [asyncio.create_task(http.get("/hold")) for _ in range(2)]
            while entered < 2:
                await asyncio.sleep(0.01)
            refused = await http.get("/readyz")
            body = assert_problem(refused, 503, "service-unavailable")
            assert refused.headers["retry-after"] == "1"
            assert body["instance"] == "/readyz"
            assert "simultanées" in body["detail"]
            # the liveness probe is never shed
            assert (await http.get("/healthz")).status_code == 200
            release.set()
            assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]
            # the slots are given back
            assert (await http.get("/readyz")).status_code == 200
    finally:
        await app.state.engine.dispose()


async def _preflight(database_url: str, **headers: str) -> Response:
    app = create_app(test_settings(database_url, cors_origins=[ORIGIN]))
    try:
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://test") as http:
            return await http.options("/api/v1/projects", headers=headers)
    finally:
        await app.state.engine.dispose()


async def test_refused_cors_preflight_is_a_problem_with_the_security_headers(
    database_url: str,
) -> None:
    cases = [
        ({"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}, "origine"),
        ({"Origin": ORIGIN, "Access-Control-Request-Method": "TRACE"}, "méthode"),
        (
            {
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "X-Evil",
            },
            "en-têtes",
        ),
    ]
    for headers, word in cases:
        response = await _preflight(database_url, **headers)
        body = assert_problem(response, 400, "cors-preflight-refused")
        assert word in body["detail"]
        assert body["instance"] == "/api/v1/projects"
        assert "access-control-allow-origin" not in response.headers or (
            response.headers["access-control-allow-origin"] != "https://evil.example"
        )


async def test_allowed_cors_preflight_still_answers_200(database_url: str) -> None:
    """The control: an allowed origin and method pass, with the security headers too."""
    response = await _preflight(
        database_url,
        Origin=ORIGIN,
        **{"Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "If-Match"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "PATCH" in response.headers["access-control-allow-methods"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_body_over_the_cap_is_a_problem_with_the_security_headers(database_url: str) -> None:
    """The 413 is sent before the app (and its security-headers middleware) sees the body."""
    app = create_app(test_settings(database_url, max_body_bytes=10))
    try:
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.post("/api/v1/candidates", content=b"x" * 11)
        assert_problem(response, 413, "payload-too-large")
    finally:
        await app.state.engine.dispose()
