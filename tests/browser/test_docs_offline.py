"""Issue 12: /docs (Swagger UI) and /redoc (ReDoc) work where nothing but the service answers.

Both pages load in Debian's headless Chromium with the network restricted to 127.0.0.1: they
list the API's operations, and no request to another host was even attempted (the assets are
the service's own, app/contract/docs.py).
"""

from __future__ import annotations

import json

import httpx

from tests.browser.conftest import OfflinePage

# Operations every reader looks for first, by their contract summary (French or not: read from
# the served contract, so the test follows the contract's wording).
PATHS = ("/api/v1/projects", "/api/v1/candidates", "/api/v1/committees")


def _summaries(base: str) -> list[str]:
    spec = httpx.get(f"{base}/openapi.json", timeout=120).json()
    found = []
    for path in PATHS:
        for operation in spec["paths"][path].values():
            found.append(str(operation["summary"]))
    return found


async def test_swagger_ui_lists_the_operations_offline(
    served: str, offline_page: OfflinePage
) -> None:
    page = offline_page.page
    await page.goto(f"{served}/docs", wait_until="networkidle")  # type: ignore[attr-defined]
    await page.wait_for_selector(".opblock", timeout=30_000)  # type: ignore[attr-defined]
    count = await page.locator(".opblock").count()  # type: ignore[attr-defined]
    spec = httpx.get(f"{served}/openapi.json", timeout=120).json()
    operations = sum(len(item) for item in spec["paths"].values())
    assert count == operations
    text = await page.inner_text("body")  # type: ignore[attr-defined]
    for path in PATHS:
        assert path in text
    offline_page.assert_offline()


async def test_redoc_lists_the_operations_offline(served: str, offline_page: OfflinePage) -> None:
    page = offline_page.page
    await page.goto(f"{served}/redoc", wait_until="networkidle")  # type: ignore[attr-defined]
    await page.wait_for_selector("[data-section-id^='operation/']", timeout=60_000)  # type: ignore[attr-defined]
    text = await page.inner_text("body")  # type: ignore[attr-defined]
    for summary in _summaries(served):
        assert summary in text, summary
    offline_page.assert_offline()


def test_the_pages_name_no_other_host(served: str) -> None:
    """The HTML itself points at the service's own assets only."""
    for path in ("/docs", "/redoc"):
        html = httpx.get(f"{served}{path}", timeout=120).text
        assert "/docs-assets/" in html
        for scheme in ("https://", "http://", "//cdn", "//fonts"):
            assert scheme not in html.replace(served, ""), (path, json.dumps(html)[:400])


def test_the_served_scripts_load_nothing_from_a_cdn(served: str) -> None:
    """ReDoc's bundle names one remote logo: the service serves it rewritten to its own."""
    for asset in ("redoc.standalone.js", "swagger-ui-bundle.js"):
        script = httpx.get(f"{served}/docs-assets/{asset}", timeout=120)
        assert script.status_code == 200
        assert "cdn.redoc.ly" not in script.text
        assert "cdn.jsdelivr" not in script.text
