"""Issue 28: the hot reads' routers are matched first (`app.main.MATCHED_FIRST`), yet every
request still reaches the route it reached in the order of declaration, and the contract keeps
that order."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from app.main import MATCHED_FIRST

# A value for every path parameter (no literal segment of the API spells it).
SAMPLE = "7a0c5e1e-0000-4000-8000-000000000000"


def test_the_routers_matched_first_take_no_other_route_s_requests(app: FastAPI) -> None:
    routes = app.router.routes
    at = next(
        i for i, r in enumerate(routes) if getattr(r, "original_router", None) is MATCHED_FIRST[0]
    )
    hot = routes[at : at + len(MATCHED_FIRST)]
    assert [getattr(r, "original_router", None) for r in hot] == list(MATCHED_FIRST)
    first = list(iter_route_contexts(hot))
    # Only the routes after them lose their place (those before keep theirs: /healthz).
    others = list(iter_route_contexts(routes[at + len(MATCHED_FIRST) :]))
    assert all(c.path_format.startswith("/api/v1/") for c in others)
    assert {c.path_format.split("/")[3] for c in first} == {"projects", "envelopes"}
    checked = 0
    for other in others:
        path = re.sub(r"\{[^}]+\}", SAMPLE, other.path_format)
        for context in first:
            methods = (context.methods or set()) & (other.methods or set())
            regex = getattr(context, "path_regex", None)
            assert not (methods and regex is not None and regex.match(path)), (
                f"{context.path_format} would take {sorted(methods)} {other.path_format}"
            )
            checked += 1
    assert checked > 1000


def test_the_contract_keeps_the_order_of_declaration(app: FastAPI) -> None:
    paths = list(app.openapi()["paths"])
    assert paths.index("/healthz") < paths.index("/api/v1/auth/me")
    assert paths.index("/api/v1/candidates") < paths.index("/api/v1/projects")
    assert paths.index("/api/v1/evaluations/{evaluation_id}") < paths.index("/api/v1/envelopes")
