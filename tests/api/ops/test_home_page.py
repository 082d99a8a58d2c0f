"""`/` (issue 27): a small French page linking the documentation (where the service shows
it), the dashboard and the open-data export, with the dashboard's Content-Security-Policy and
the security headers of every answer; outside the OpenAPI contract."""

from __future__ import annotations

import re

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from app.dashboard.router import CSP
from app.main import create_app
from tests.support import test_settings


def links(html: str) -> set[str]:
    return set(re.findall(r'href="([^"]+)"', html))


async def test_the_home_page_links_docs_dashboard_and_open_data(client: AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<html lang="fr">' in response.text
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert {
        "/docs",
        "/redoc",
        "/tableau-de-bord/",
        "/api/v1/open-data/subventions.csv",
        "/api/v1/open-data/subventions.json",
    } <= links(response.text)
    # every link answers (the dashboard's stylesheet too), none leaves the service
    for href in links(response.text):
        assert href.startswith("/"), href
        assert (await client.get(href)).status_code == 200, href
    assert (await client.head("/")).status_code == 200


async def test_the_home_page_is_no_api_operation(app: FastAPI) -> None:
    assert "/" not in app.openapi()["paths"]


async def test_without_docs_the_home_page_does_not_link_them(database_url: str) -> None:
    app = create_app(test_settings(database_url, docs_enabled=False))
    try:
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.get("/")
    finally:
        await app.state.engine.dispose()
    assert response.status_code == 200
    assert not {"/docs", "/redoc", "/openapi.json"} & links(response.text)
    assert "/tableau-de-bord/" in links(response.text)
