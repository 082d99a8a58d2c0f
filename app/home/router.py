"""`/` (issue 27): a small French page that links what a visitor comes for: the API's
documentation (where `settings.show_docs` serves it), the dashboard, the open-data export.

A plain Starlette route like the dashboard's page, so it stays out of the OpenAPI contract,
with the dashboard's Content-Security-Policy (no script, no external host).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.routing import Route

from app.dashboard.router import CSP

TEMPLATE = Path(__file__).parent / "index.html"
DOCS_LINKS = (
    '      <li><a href="/docs">Documentation interactive (Swagger UI)</a></li>\n'
    '      <li><a href="/redoc">Référence de l\'API (ReDoc)</a></li>\n'
    '      <li><a href="/openapi.json">Contrat OpenAPI (JSON)</a></li>'
)
NO_DOCS = (
    "      <li>La documentation n'est pas publiée par ce service ; le contrat OpenAPI est "
    "dans le dépôt (<code>openapi/openapi.json</code>).</li>"
)


@cache
def _template() -> str:
    return TEMPLATE.read_text(encoding="utf-8")


def render(*, show_docs: bool) -> str:
    return _template().replace("{{DOCS}}", DOCS_LINKS if show_docs else NO_DOCS)


async def page(request: Request) -> HTMLResponse:
    """Accueil : documentation, tableau de bord, données ouvertes."""
    return HTMLResponse(
        render(show_docs=request.app.state.settings.show_docs),
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"},
    )


def mount(app: FastAPI) -> None:
    app.router.routes.append(Route("/", page, methods=["GET", "HEAD"]))
