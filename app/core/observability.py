"""Request ids, access logs and Prometheus metrics (issue 11).

- Every request gets an id: the caller's `X-Request-ID` when it is short and made of safe
  characters, else a generated one. It is echoed in the `X-Request-ID` response header and in
  every problem body (`request_id`, app.core.errors.problem_body) and written in the log line.
- One JSON line per request on the `app.access` logger: time, request id, method, route
  template, status, duration, the caller's role and subject (never the token).
- Metrics through prometheus_client: requests by route template and status, a latency
  histogram, database connections in use, rate-limit refusals. Under several uvicorn workers
  every process writes to PROMETHEUS_MULTIPROC_DIR (`python -m app serve` sets it up) and a
  scrape sums them (multiprocess mode). Figures read from the database at scrape time are
  registered as `app.state.metrics_sources` (see app/ops/router.py).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from fastapi.routing import iter_route_contexts
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_logger = logging.getLogger("app.access")

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is kept when it is 1..128 characters of letters, digits and . _ : - (a UUID,
# a W3C trace id, a load balancer's id); anything else (spaces, quotes, control characters
# that could forge log lines or headers) is replaced by a generated one.
REQUEST_ID_MAX = 128
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
UNMATCHED_ROUTE = "<unmatched>"  # no route template: bounded label cardinality
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})


@dataclass
class RequestContext:
    request_id: str
    role: str = "anonymous"
    subject: str | None = None


_current: ContextVar[RequestContext | None] = ContextVar("guichet_request", default=None)


def current_request_id() -> str | None:
    context = _current.get()
    return context.request_id if context is not None else None


def set_caller(role: str, subject: str) -> None:
    """Called once the token is verified (app.auth.dependencies): who the log line names."""
    context = _current.get()
    if context is not None:
        context.role, context.subject = role, subject


def request_id_from(header: str | None) -> str:
    """The caller's id when acceptable, else a new one (32 hex digits)."""
    if header is not None and _REQUEST_ID_RE.fullmatch(header):
        return header
    # `uuid.uuid4().hex` without building a UUID object, a third of its cost (issue 28): the
    # same 16 random bytes with the version (4) and variant (RFC 4122) bits set.
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    return raw.hex()


# -- metrics ----------------------------------------------------------------------------------
# Module-level, as prometheus_client expects: in multiprocess mode (PROMETHEUS_MULTIPROC_DIR set
# before the worker imports prometheus_client) each process writes its values to files.

REQUESTS = Counter(
    "guichet_http_requests_total",
    "Requêtes HTTP servies, par méthode, modèle de route et statut.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "guichet_http_request_duration_seconds",
    "Durée des requêtes HTTP (secondes), par méthode et modèle de route.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DB_POOL_IN_USE = Gauge(
    "guichet_db_pool_connections_in_use",
    "Connexions à la base empruntées au pool (somme des processus vivants).",
    multiprocess_mode="livesum",
)
RATE_LIMIT_REFUSALS = Counter(
    "guichet_rate_limit_refusals_total",
    "Requêtes refusées par la limite de débit (429), par classe de route et rôle.",
    ["route_class", "role"],
)


def instrument_pool(engine: AsyncEngine) -> None:
    """Count the pool's checked-out connections (checkout +1, checkin −1)."""
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkout")
    def _checkout(*_args: Any) -> None:
        DB_POOL_IN_USE.inc()

    @event.listens_for(pool, "checkin")
    def _checkin(*_args: Any) -> None:
        DB_POOL_IN_USE.dec()


def route_templates(app: Any) -> dict[int, str]:
    """Each route's full template (prefixes of included routers included), by route object:
    FastAPI puts the matched route in `scope["route"]`, whose own path lacks the prefix."""
    templates: dict[int, str] = {}
    for context in iter_route_contexts(getattr(app, "routes", [])):
        if context.path_format:
            templates.setdefault(id(context.original_route), context.path_format)
    return templates


def route_template(scope: Scope, templates: dict[int, str]) -> str:
    route = scope.get("route")
    if route is None:
        return UNMATCHED_ROUTE
    path = templates.get(id(route)) or getattr(route, "path_format", None)
    return str(path) if path else UNMATCHED_ROUTE


# -- access log -------------------------------------------------------------------------------


class _MessageOnly(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


def configure_access_log(enabled: bool) -> None:
    """One JSON line per request on stdout (the message is the JSON document)."""
    access_logger.setLevel(logging.INFO if enabled else logging.WARNING)
    if not any(getattr(h, "guichet_access", False) for h in access_logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(_MessageOnly())
        handler.guichet_access = True  # type: ignore[attr-defined]
        access_logger.addHandler(handler)
    access_logger.propagate = False


# json.dumps with an option builds a new encoder on every call: one, built once (issue 28).
_ENCODE_LINE = json.JSONEncoder(ensure_ascii=False).encode


@lru_cache(maxsize=2)
def _second_iso(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).isoformat()[:19]  # YYYY-MM-DDTHH:MM:SS


def now_iso() -> str:
    """`datetime.now(UTC).isoformat(timespec="milliseconds")`, the date and time written once a
    second (issue 28: building and formatting the datetime cost as much as the rest of the
    line)."""
    second, microseconds = divmod(time.time_ns() // 1000, 1_000_000)
    return f"{_second_iso(second)}.{microseconds // 1000:03d}+00:00"


def access_line(
    context: RequestContext, *, method: str, route: str, status: int, duration: float
) -> str:
    return _ENCODE_LINE(
        {
            "time": now_iso(),
            "request_id": context.request_id,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(duration * 1000, 3),
            "role": context.role,
            "subject": context.subject,
        }
    )


class ObservabilityMiddleware:
    """Outermost: the request id, then after the response the log line and the metrics
    (every answer counts, the 413, 429 and 503 of the other middlewares included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.templates: dict[int, str] | None = None  # built at the first request
        # Each (method, route, status)'s counter and histogram series, looked up once: the
        # metrics' own `labels()` checks and converts its values and takes a lock on every call
        # (issue 28). As bounded as the series themselves (route templates, not paths).
        self.series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                header = value.decode("latin-1")
                break
        context = RequestContext(request_id_from(header))
        token = _current.set(context)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", context.request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            if self.templates is None:
                self.templates = route_templates(scope.get("app"))
            route = route_template(scope, self.templates)
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            series = self.series.get((method, route, status))
            if series is None:
                series = REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route)
                self.series[method, route, status] = series
            series[0].inc()
            series[1].observe(duration)
            if access_logger.isEnabledFor(logging.INFO):  # GUICHET_ACCESS_LOG=false: no line built
                line = access_line(
                    context, method=method, route=route, status=status, duration=duration
                )
                # The record built directly: Logger.info would walk the stack for the caller's
                # file and line, which the line never shows (issue 28).
                access_logger.handle(
                    logging.LogRecord(access_logger.name, logging.INFO, "", 0, line, None, None)
                )
            _current.reset(token)


# -- multiprocess mode ------------------------------------------------------------------------

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiproc_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def mark_worker_dead() -> None:
    """At a worker's shutdown: its live gauges (pool in use) stop counting in the sum."""
    path = multiproc_dir()
    if path is not None:
        multiprocess.mark_process_dead(os.getpid(), path)  # type: ignore[no-untyped-call]


def exposition(extra: CollectorRegistry | None = None) -> bytes:
    """The text exposition: every worker's metrics summed (multiprocess mode) or this
    process's, then the figures computed at scrape time."""
    path = multiproc_dir()
    if path is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    return text + (generate_latest(extra) if extra is not None else b"")
