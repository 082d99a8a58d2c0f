"""Application factory: nothing is built at import time."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from app.audit.checkpoints import run_publisher as run_checkpoint_publisher
from app.audit.router import router as audit_router
from app.audit.service import keyring_of, use_keyring
from app.auth.dependencies import principal_of
from app.auth.router import router as auth_router
from app.budgets.envelopes_router import envelopes_router
from app.budgets.grants_router import grants_router
from app.candidates.router import router as candidates_router
from app.committees.router import (
    decisions_router as committee_decisions_router,
    router as committees_router,
)
from app.contract.docs import install_docs
from app.contract.openapi import build_openapi
from app.core.config import Settings, get_settings
from app.core.db import (
    CheckoutGate,
    make_engine,
    make_sessionmaker,
    start_clock,
    write_session,
)
from app.core.exception_handlers import install_error_handlers
from app.core.middleware import (
    BodyLimitMiddleware,
    CORSDisabledMiddleware,
    InFlightLimitMiddleware,
    ProblemCORSMiddleware,
    SecurityHeadersMiddleware,
)
from app.core.observability import (
    ObservabilityMiddleware,
    configure_access_log,
    instrument_pool,
    mark_worker_dead,
)
from app.core.proconnect import ProviderVerifier
from app.core.ratelimit import RateLimitMiddleware
from app.core.reads import ReadPool, read_connection, read_engines
from app.core.tokens import TokenVerifier
from app.dashboard.router import mount as mount_dashboard
from app.documents import metrics as documents_metrics, worker as documents_worker
from app.documents.router import router as documents_router
from app.ds.router import project_router as ds_project_router, router as ds_router
from app.ds.worker import run_worker as run_ds_worker
from app.evaluations.router import evaluations_router, project_evaluations_router
from app.home.router import mount as mount_home
from app.notifications.router import router as notifications_router
from app.opendata.router import router as opendata_router
from app.ops.router import router as ops_router
from app.programme.router import router as programme_router
from app.projects.router import router as projects_router
from app.reference.router import router as reference_router
from app.signin.router import router as signin_router, wellknown_router
from app.stats import metrics as stats_metrics, service as stats_service
from app.stats.router import router as stats_router
from app.webhooks import guard as webhooks_guard, metrics as webhooks_metrics
from app.webhooks.router import router as webhooks_router
from app.webhooks.worker import run_worker

API_PREFIX = "/api/v1"
API_VERSION = "1.0.0"
DESCRIPTION = """\
API du guichet départemental FITN7 axe 3 (France Relance) : candidatures des collectivités,
instruction et notation par les préfectures, comités de sélection, enveloppes départementales,
conventions et paiements, tableaux de bord nationaux et données ouvertes.

Erreurs : `application/problem+json` (RFC 9457) avec `code` = identifiant de règle (R-…).
Montants en centimes d'euro (`*_cents`), taux en points de base (`*_bps`).
"""

# CORS: the response headers a browser front-end may read (issue 12): versions, the URL of a
# created resource, idempotent replays, and the rate limit's answers.
EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "Last-Modified",
    "Idempotent-Replayed",
    "X-Request-ID",
    "Retry-After",
    "RateLimit",
    "RateLimit-Policy",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
]
# Issue 28: the routers of the hot reads (a dossier, its eligibility report, the lists; an
# envelope, its ledger), matched before every other route (see `create_app`).
MATCHED_FIRST = (projects_router, envelopes_router)


logger = logging.getLogger(__name__)


def _match_under(route: BaseRoute, prefix: str) -> None:
    """Make an included router's `matches` refuse a path outside `prefix` (every path of its
    routes starts with it) before trying its routes one by one (issue 28)."""
    matches = route.matches

    def matches_under(scope: Scope) -> tuple[Match, Scope]:
        if not get_route_path(scope).startswith(prefix):
            return Match.NONE, {}
        return matches(scope)

    matches_under.__wrapped__ = matches  # type: ignore[attr-defined]  # `_walk_routes` walks it
    route.matches = matches_under  # type: ignore[method-assign]


async def _walk_routes(app: FastAPI) -> None:
    """One request that no route answers, sent to the router alone (no middleware, no log):
    FastAPI builds an included router's routes (the analysis of their dependencies) the
    first time a request walks it, and a request for nothing walks them all."""
    scope: dict[str, Any] = {
        "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/.warm-up", "raw_path": b"/.warm-up", "root_path": "", "query_string": b"",
        "headers": [], "client": None, "server": None,
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        """The router's answer (a 404 for nothing) is what the walk is not for: dropped."""

    await app.router(scope, receive, send)
    # The routers matched first refuse a path outside their prefix (`_match_under`): walked
    # too, or the first request that lists their links (the dashboard's) would build them.
    for route in app.router.routes:
        walk = getattr(route.matches, "__wrapped__", None)
        if walk is not None:
            walk(dict(scope))


def _load_anyio_backend() -> None:
    """FastAPI closes a yield dependency (the session's) in an anyio cancel scope, and anyio
    imports its asyncio backend at its first scope: 40-60 ms of CPU (its modules compiled
    when no bytecode is cached) that the first request with such a dependency paid. Since the
    hot reads are lean (no yield dependency), that was the cold dashboard's first read (73-101
    ms against 28-43 ms with the backend loaded, measured in-process on 2026-12-06)."""
    with anyio.CancelScope():
        pass  # opening a scope is the whole point: it makes anyio load the backend


async def warm_up(app: FastAPI, settings: Settings) -> None:
    """Issue 28: what a process did at its first request, done at its start: FastAPI's build
    of the routes (about 0.25 s of CPU, which the first request paid: a fresh process's first
    export ran at two thirds of the next one's speed), and the national dashboard's statements
    compiled (`stats_service.warm_up`). A database that does not answer yet only leaves the
    dashboard cold."""
    try:
        await _walk_routes(app)
        _load_anyio_backend()
        await stats_service.warm_up(app.state.sessionmaker, settings.programme_code)
    except Exception as exc:  # noqa: BLE001 - a start never fails on a warm-up
        logger.warning("not warmed up at startup (%s)", exc)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for these settings (engine, sessions and verifier live on app.state)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await start_clock(app)  # R-ELIG-8: the database's clock, fixed at its first start
        app.state.read_pool = await ReadPool.open(app.state.engine, settings)  # issue 28
        stop = asyncio.Event()
        worker = None
        if settings.webhook_worker_enabled:  # R-HOOK-1: one delivery worker per process
            worker = asyncio.create_task(run_worker(app.state.sessionmaker, settings, stop))
        ds_worker = None
        if settings.ds_worker_enabled and settings.ds_api_token is not None:
            # Issue 14: decisions written back to démarches-simplifiées from the outbox.
            ds_worker = asyncio.create_task(run_ds_worker(app.state.sessionmaker, settings, stop))
        checkpoints = None
        if settings.audit_checkpoint_interval_seconds > 0:  # R-AUDIT-1: the head, anchored
            checkpoints = asyncio.create_task(
                run_checkpoint_publisher(
                    app.state.sessionmaker, settings, app.state.token_verifier.service_key, stop
                )
            )
        scan_worker = documents_worker.start(app, stop)  # R-DOC-2, when clamd is configured
        if settings.server_warm_up:
            await warm_up(app, settings)
        if settings.server_gc_freeze:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker
            if ds_worker is not None:
                await ds_worker
            if checkpoints is not None:
                await checkpoints
            if scan_worker is not None:
                await scan_worker
            read_pool, app.state.read_pool = app.state.read_pool, None  # reads: the engine's
            if read_pool is not None:
                await read_pool.close()
            await app.state.engine.dispose()
            mark_worker_dead()  # multiprocess metrics: this worker's live gauges go

    app = FastAPI(
        title="Guichet FITN7 axe 3",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served offline by app.contract.docs when settings.show_docs
        redoc_url=None,
        openapi_url="/openapi.json" if settings.show_docs else None,
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings)
    app.state.read_engines = read_engines(app.state.engine)  # the reads' options, set once
    app.state.sessionmaker = make_sessionmaker(app.state.engine)
    app.state.checkout_gate = CheckoutGate.for_engine(app.state.engine, settings)
    app.state.read_pool = None  # the autocommit reads' pool on PostgreSQL: opened at start
    app.state.read_connection = read_connection  # the reads' connections (tests put theirs)
    app.state.write_session = write_session  # the lean writes' sessions (tests put theirs)
    instrument_pool(app.state.engine)
    configure_access_log(settings.access_log)
    # GET /metrics reads these at scrape time (gauges computed from the database).
    app.state.metrics_sources = [
        stats_metrics.envelope_gauges,
        webhooks_metrics.outbox_gauges,
        documents_metrics.scan_gauges,
    ]
    # R-HOOK-1: how the SSRF guard resolves webhook hosts at registration (tests replace it).
    app.state.webhook_resolver = webhooks_guard.system_resolver
    app.state.clock = None  # read from the database at startup, or at the first request
    app.state.token_verifier = TokenVerifier(settings)
    use_keyring(keyring_of(settings))  # R-AUDIT-1: the chain's HMAC keys, outside the database
    # R-AUTH-2: ProConnect ID tokens (discovery and JWKS fetched at first use, then cached).
    app.state.proconnect = ProviderVerifier(settings) if settings.proconnect_issuer else None

    install_error_handlers(app)
    if settings.show_docs:
        install_docs(app, openapi_url="/openapi.json")
    app.include_router(ops_router)
    app.include_router(wellknown_router)
    # /tableau-de-bord/: the page and its files (DSFR built by `make assets`), outside the API.
    mount_dashboard(app)
    mount_home(app)  # /: links to the docs, the dashboard and the open data (issue 27)
    matched_first: list[BaseRoute] = []
    for router in (
        auth_router,
        signin_router,
        programme_router,
        candidates_router,
        projects_router,
        grants_router,
        project_evaluations_router,
        evaluations_router,
        envelopes_router,
        committees_router,
        committee_decisions_router,
        reference_router,
        opendata_router,
        stats_router,
        audit_router,
        webhooks_router,
        ds_router,
        ds_project_router,
        documents_router,
        notifications_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
        if router in MATCHED_FIRST:
            matched_first.append(app.router.routes[-1])
    # Issue 28: a request is matched against the routes one by one, in this list's order (an
    # included router has no dispatch by prefix): the routers of the hot reads are tried first
    # of all (57 routes were tried before an envelope's: 6-7 % of its CPU under py-spy; the 14
    # of the probes, docs and pages, 4-9 % more in-process), each refusing at once a path
    # outside its prefix (`_match_under`: a probe pays two string comparisons). No path of
    # theirs overlaps another route's (tests/contract/test_route_order.py). The contract keeps
    # the order of declaration.
    contract_routes = list(app.router.routes)
    first = {id(route) for route in matched_first}
    app.router.routes[:] = matched_first + [r for r in contract_routes if id(r) not in first]
    for route, router in zip(matched_first, MATCHED_FIRST, strict=True):
        _match_under(route, API_PREFIX + router.prefix)

    def _openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, contract_routes)
        return app.openapi_schema

    app.openapi = _openapi  # type: ignore[method-assign]

    # Innermost first: the rate limit counts before the route parses the body, and its 429
    # gets the CORS and security headers of the middlewares around it. Outermost last:
    # in-flight limit, body cap, security headers (on CORS refusals too), CORS.
    app.add_middleware(
        RateLimitMiddleware,
        settings=settings,
        verifier=app.state.token_verifier,
        identify=principal_of,
    )
    if settings.cors_origins:
        app.add_middleware(
            ProblemCORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=settings.cors_allow_credentials,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "Idempotency-Key",
                "If-None-Match",
                "X-Request-ID",
            ],
            expose_headers=EXPOSED_HEADERS,
        )
    else:
        app.add_middleware(CORSDisabledMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(InFlightLimitMiddleware, limit=settings.max_in_flight_requests)
    # Outermost: the request id is known to every other middleware's problem bodies, and
    # the log line and metrics see every answer.
    app.add_middleware(ObservabilityMiddleware)
    return app
