"""/tableau-de-bord/: one HTML page and its static files, served by the service itself.

The page reads only the public API (/stats/…, /committees/status, /envelopes) with the
caller's bearer token; it holds no data of its own. Its Content-Security-Policy names no
external host: the design system (DSFR, without its fonts) is served from static/vendor, built
by `make assets`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from app.core.config import Settings
from app.core.errors import AppError
from app.signin import proconnect

STATIC_DIR = Path(__file__).parent / "static"
PATH = "/tableau-de-bord/"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@cache
def _template() -> str:
    return (STATIC_DIR / "index.html").read_text(encoding="utf-8")


def render(*, dev_token: bool, proconnect: bool = False) -> str:
    """The page; outside production it offers to paste a development token; where the
    server-side ProConnect flow is configured, it offers « Se connecter avec ProConnect »."""
    return (
        _template()
        .replace("{{DEV_TOKEN}}", "on" if dev_token else "off")
        .replace("{{PROCONNECT}}", "on" if proconnect else "off")
    )


def _proconnect_configured(settings: Settings) -> bool:
    try:
        proconnect.client_settings(settings)
    except AppError:
        return False
    return True


async def page(request: Request) -> HTMLResponse:
    """Tableau de bord (DINUM et ANCT : national ; un préfet : son département)."""
    settings = request.app.state.settings
    production = settings.environment == "production"
    return HTMLResponse(
        render(dev_token=not production, proconnect=_proconnect_configured(settings)),
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"},
    )


class DashboardStatic(StaticFiles):
    """The page's files, with the page's Content-Security-Policy."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"content-security-policy", CSP.encode()),
                    (b"cache-control", b"no-cache"),
                ]
            await send(message)

        await super().__call__(scope, receive, wrapped)


def mount(app: FastAPI) -> None:
    """/tableau-de-bord/ and /tableau-de-bord/static/…: plain Starlette routes, not API
    operations, so they stay out of the OpenAPI contract; /tableau-de-bord redirects."""

    async def redirect(_request: Request) -> RedirectResponse:
        return RedirectResponse(PATH, status_code=308)

    app.router.routes.append(Route(PATH.rstrip("/"), redirect, methods=["GET", "HEAD"]))
    app.router.routes.append(Route(PATH, page, methods=["GET", "HEAD"]))
    app.mount(PATH + "static", DashboardStatic(directory=STATIC_DIR), name="dashboard-static")
