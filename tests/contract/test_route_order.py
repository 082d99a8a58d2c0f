"""Issue 28: the hot reads' routers are matched first (`app.main.MATCHED_FIRST`), yet every
request still reaches the route it reached in the order of declaration, and the contract keeps
that order."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Match

from app.main import MATCHED_FIRST

# A value for every path parameter (no literal segment of the API spells it).
SAMPLE = "7a0c5e1e-0000-4000-8000-000000000000"


def test_the_routers_matched_first_take_no_other_route_s_requests(app: FastAPI) -> None:
    routes = app.router.routes
    hot = routes[: len(MATCHED_FIRST)]  # first of all, before the probes (/healthz)
    assert [getattr(r, "original_router", None) for r in hot] == list(MATCHED_FIRST)
    first = list(iter_route_contexts(hot))
    others = list(iter_route_contexts(routes[len(MATCHED_FIRST) :]))
    assert any(c.path_format == "/healthz" for c in others)
    assert {str(c.path_format).split("/")[3] for c in first} == {"projects", "envelopes"}
    checked = 0
    for other in others:
        path = re.sub(r"\{[^}]+\}", SAMPLE, str(other.path_format))
        for context in first:
            methods = (context.methods or set()) & (other.methods or set())
            regex = getattr(context, "path_regex", None)
            assert not (methods and regex is not None and regex.match(path)), (
                f"{context.path_format} would take {sorted(methods)} {other.path_format}"
            )
            checked += 1
    assert checked > 1000


def test_a_router_matched_first_refuses_a_path_outside_its_prefix_at_once(app: FastAPI) -> None:
    """`_match_under`: the probes, docs and pages pay a string comparison per hot router, not
    a regular expression per route of theirs; a path under its prefix is matched as before."""
    projects, envelopes = app.router.routes[: len(MATCHED_FIRST)]
    scope: dict[str, Any] = {"type": "http", "method": "GET", "root_path": ""}
    for path in ("/healthz", "/api/v1/candidates", "/api/v1/projectsX", "/"):
        for router in (projects, envelopes):
            assert router.matches({**scope, "path": path}) == (Match.NONE, {})
    match, child = projects.matches({**scope, "path": f"/api/v1/projects/{SAMPLE}"})
    assert match is Match.FULL
    match, _ = envelopes.matches({**scope, "path": "/api/v1/envelopes/13/ledger"})
    assert match is Match.FULL
    assert envelopes.matches({**scope, "path": f"/api/v1/projects/{SAMPLE}"})[0] is Match.NONE


def test_the_contract_keeps_the_order_of_declaration(app: FastAPI) -> None:
    paths = list(app.openapi()["paths"])
    assert paths.index("/healthz") < paths.index("/api/v1/auth/me")
    assert paths.index("/api/v1/candidates") < paths.index("/api/v1/projects")
    assert paths.index("/api/v1/evaluations/{evaluation_id}") < paths.index("/api/v1/envelopes")


async def test_the_start_s_walk_builds_the_routers_matched_first_too(app: FastAPI) -> None:
    """`_walk_routes` (the start's warm-up) walks the routers matched first past their prefix
    check: a first request that lists their links (the dashboard's) does not build them."""
    from app.main import _walk_routes

    walked: list[str] = []
    guarded = app.router.routes[: len(MATCHED_FIRST)]
    originals = [route.matches.__wrapped__ for route in guarded]
    try:
        for route, original in zip(guarded, originals, strict=True):

            def record(scope: dict[str, Any], original: Any = original) -> Any:
                walked.append(scope["path"])
                return original(scope)

            route.matches.__wrapped__ = record
        await _walk_routes(app)
    finally:
        for route, original in zip(guarded, originals, strict=True):
            route.matches.__wrapped__ = original
    assert walked == ["/.warm-up"] * len(MATCHED_FIRST)


# The start's warm-up, in a process of its own: which modules are loaded is the process's.
_WARM_UP = """
import asyncio, sys
from app.core.config import Settings
from app.main import create_app, warm_up
BACKEND = "anyio._backends._asyncio"
settings = Settings(database_url="sqlite+aiosqlite:///:memory:")
app = create_app(settings)
before = BACKEND in sys.modules
asyncio.run(warm_up(app, settings))
print(before, BACKEND in sys.modules)
"""


def test_the_start_loads_anyio_s_backend_that_the_first_yield_dependency_needs() -> None:
    """Issue 28: the hot reads are lean (no yield dependency), so the first request that
    closed one (the session's, in an anyio cancel scope) loaded anyio's asyncio backend,
    40-60 ms of the cold dashboard's first read; the start's warm-up loads it."""
    import subprocess
    import sys

    done = subprocess.run(  # noqa: S603 - the project's own interpreter, fixed argv
        [sys.executable, "-c", _WARM_UP], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == ["False", "True"], done.stderr
