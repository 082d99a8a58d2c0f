"""Pure ASGI middlewares: request body cap (413 before parsing), security headers, in-flight
request limit (503) and CORS whose refusals are problem+json too."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import (
    PROBLEM_MEDIA_TYPE,
    RETRY_AFTER_SECONDS,
    PayloadTooLarge,
    ServiceUnavailable,
    problem_body,
)


async def _send_413(scope: Scope, send: Send) -> None:
    body = json.dumps(
        problem_body(
            status=413,
            slug=PayloadTooLarge.slug,
            title=PayloadTooLarge.title,
            detail=PayloadTooLarge.default_detail,
            instance=scope.get("path", ""),
        ),
        ensure_ascii=False,
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                (b"cache-control", b"no-store"),
                *SECURITY_HEADERS,  # sent outside SecurityHeadersMiddleware
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# Uploads read as they arrive by their route, which enforces its own (larger) limit while
# reading and never holds the body (issue 24: documents, R-DOC-2).
STREAMED_UPLOADS = re.compile(r"^/api/v1/(?:projects|candidates)/[^/]+/documents$")


class BodyLimitMiddleware:
    """Refuse bodies over `max_bytes` with 413, whether Content-Length says so or not; the
    streamed uploads (`streamed`) pass through untouched."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, streamed: re.Pattern[str] = STREAMED_UPLOADS
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streamed = streamed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            scope["method"] == "POST" and self.streamed.match(scope.get("path", ""))
        ):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await _send_413(scope, send)
                    return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)  # disconnect: let the app see it
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_413(scope, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeadersMiddleware:
    """nosniff, HSTS, no framing; `Cache-Control: no-store` unless the route set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in names)
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, wrapped)


def _problem_bytes(scope: Scope, status: int, slug: str, title: str, detail: str) -> bytes:
    body = problem_body(
        status=status, slug=slug, title=title, detail=detail, instance=scope.get("path", "")
    )
    return json.dumps(body, ensure_ascii=False).encode()


class InFlightLimitMiddleware:
    """At most `limit` requests in flight in this process; past it, 503 problem+json with
    Retry-After and the security headers (issue 8 items 8 and 10).

    It counts requests, not connections: idle keep-alive connections cost nothing here, so
    uvicorn's own `limit_concurrency` (which counts connections and answers text/plain) is set
    far above this one. `/healthz` is never shed, so that an overloaded process is not
    mistaken for a dead one.
    """

    EXEMPT = frozenset({"/healthz"})

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await self._refuse(scope, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = _problem_bytes(
            scope,
            503,
            ServiceUnavailable.slug,
            ServiceUnavailable.title,
            "Le service reçoit trop de requêtes simultanées : réessayez dans un instant.",
        )
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", RETRY_AFTER_SECONDS.encode()),
                    (b"cache-control", b"no-store"),
                    *SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


CORS_REFUSALS = {"origin": "origine", "method": "méthode", "headers": "en-têtes"}


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, whose refused preflight (400 text/plain) becomes problem+json.

    The CORS headers Starlette computed (Vary, Allow-Methods, ...) are kept; the security
    headers come from SecurityHeadersMiddleware, added outside this one.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            if "origin" in headers and "access-control-request-method" in headers:
                response = self.preflight_response(request_headers=headers)
                if response.status_code >= 400:
                    response = self._problem(scope, response)
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    @staticmethod
    def _problem(scope: Scope, refused: Response) -> Response:
        # Starlette says "Disallowed CORS origin, method, headers": name them in French.
        reasons = bytes(refused.body).decode("utf-8", "replace")
        refused_parts = [fr for en, fr in CORS_REFUSALS.items() if en in reasons] or ["requête"]
        detail = f"Requête préalable CORS refusée : {', '.join(refused_parts)} non autorisé(s)."
        kept: dict[str, Any] = {
            k: v
            for k, v in refused.headers.items()
            if k.lower() not in {"content-type", "content-length"}
        }
        body = _problem_bytes(scope, 400, "cors-preflight-refused", "Requête CORS refusée", detail)
        return Response(
            body, status_code=refused.status_code, headers=kept, media_type=PROBLEM_MEDIA_TYPE
        )


CORS_DISABLED_DETAIL = (
    "Requête préalable CORS refusée : CORS n'est pas activé sur ce service, aucune origine "
    "n'est autorisée. L'exploitant l'active en listant les origines du front-end dans "
    "GUICHET_CORS_ORIGINS."
)


class CORSDisabledMiddleware:
    """No CORS origin configured: a browser's preflight (OPTIONS with Origin and
    Access-Control-Request-Method) gets a 400 problem+json naming GUICHET_CORS_ORIGINS, not a
    bare 405 (issue 27). It grants nothing: no Access-Control-Allow-* header is ever sent.
    Any other OPTIONS request goes on to the router (405 with Allow)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            if "origin" in headers and "access-control-request-method" in headers:
                body = _problem_bytes(
                    scope, 400, "cors-disabled", "CORS non activé", CORS_DISABLED_DETAIL
                )
                response = Response(
                    body,
                    status_code=400,
                    media_type=PROBLEM_MEDIA_TYPE,
                    headers={"Vary": "Origin"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
