"""API documentation pages served offline (issue 12): Swagger UI at /docs and ReDoc at /redoc,
their scripts, styles and icon served by the service itself from the files bundled by the
`fastapi-offline` package (Swagger UI and ReDoc builds, no CDN, no web font): the pages work on
networks that reach nothing but the service. API8: only where `settings.show_docs` allows.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request

ASSETS_URL = "/docs-assets"
ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
SWAGGER_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


# The one remote URL ReDoc's bundle would load (the logo of its "powered by" footer): served
# with the service's own icon instead, so the page asks nothing of any other host.
REDOC_REMOTE_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@lru_cache(maxsize=1)
def redoc_script() -> bytes:
    script = (ASSETS_DIR / "redoc.standalone.js").read_text(encoding="utf-8")
    return script.replace(REDOC_REMOTE_LOGO, f"{ASSETS_URL}/favicon.png").encode()


def install_docs(app: FastAPI, *, openapi_url: str) -> None:
    """Mount the bundled assets and the two documentation pages on `app`."""
    title = app.title

    # Plain Starlette routes (as FastAPI's own docs pages): no operation of the API contract.
    async def redoc_js(_request: Request) -> Response:
        return Response(redoc_script(), media_type="text/javascript")

    async def swagger_ui(_request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} — Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
        )

    async def swagger_ui_redirect(_request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(_request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} — ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

    app.add_route(f"{ASSETS_URL}/redoc.standalone.js", redoc_js, include_in_schema=False)
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    app.add_route(SWAGGER_URL, swagger_ui, include_in_schema=False)
    app.add_route(OAUTH2_REDIRECT_URL, swagger_ui_redirect, include_in_schema=False)
    app.add_route(REDOC_URL, redoc, include_in_schema=False)
