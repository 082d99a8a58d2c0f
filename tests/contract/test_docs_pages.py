"""Issue 12 / API8: the offline documentation pages follow `settings.show_docs`: served with
their assets where it is on, all 404 where it is off (production, or switched off)."""

from __future__ import annotations

from httpx import ASGITransport, AsyncClient

from app.main import create_app
from tests.support import test_settings

PAGES = ("/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui-bundle.js")


async def _statuses(database_url: str, **overrides: object) -> dict[str, int]:
    app = create_app(test_settings(database_url, **overrides))
    try:
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://test") as http:
            return {page: (await http.get(page)).status_code for page in PAGES}
    finally:
        await app.state.engine.dispose()


async def test_the_docs_and_their_assets_are_served_where_show_docs(database_url: str) -> None:
    assert await _statuses(database_url) == dict.fromkeys(PAGES, 200)


async def test_no_docs_page_nor_asset_when_docs_are_off(database_url: str) -> None:
    assert await _statuses(database_url, docs_enabled=False) == dict.fromkeys(PAGES, 404)
