"""Issue 28, lean routes (app/core/lean_route.py): what their tests compare. A lean route must
answer each request exactly as FastAPI's own path answers it: the same status, headers and
bytes (`same_answers`, which asks both paths in turn)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from httpx import AsyncClient

from app.core.lean_route import LeanRoute

SKIPPED = ("date", "x-request-id", "ratelimit")  # differ from one request to the next


def lean_routes(app: FastAPI) -> list[LeanRoute]:
    """The app's routes that have a lean path."""
    found: list[LeanRoute] = []
    for context in iter_route_contexts(app.router.routes):
        route = getattr(context, "original_route", context)
        if isinstance(route, LeanRoute) and route.lean_plan is not None:
            found.append(route)
    return found


@contextmanager
def fastapi_path(app: FastAPI) -> Iterator[None]:
    """Within it, the lean routes answer through FastAPI's own path."""
    routes = lean_routes(app)
    plans = [route.lean_plan for route in routes]
    for route in routes:
        route.lean_plan = None
    try:
        yield
    finally:
        for route, plan in zip(routes, plans, strict=True):
            route.lean_plan = plan


def answer(response: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """A response as compared: its status, its headers but those of SKIPPED, its bytes (the
    request id a problem names written as <id>)."""
    kept = [(k, v) for k, v in response.headers.multi_items() if not k.lower().startswith(SKIPPED)]
    request_id = response.headers["x-request-id"].encode()
    return response.status_code, kept, response.content.replace(request_id, b"<id>")


async def same_answers(
    app: FastAPI,
    client: AsyncClient,
    paths: Sequence[str],
    callers: Sequence[Mapping[str, str]],
    method: str = "GET",
) -> set[int]:
    """Each path asked by each caller on the lean path, then on FastAPI's: the same answers
    (asserted); the statuses met. A write (`method`) compared so must change nothing: a
    refused one."""
    statuses: set[int] = set()
    for path in paths:
        for caller in callers:
            lean = answer(await client.request(method, path, headers=dict(caller)))
            with fastapi_path(app):
                full = answer(await client.request(method, path, headers=dict(caller)))
            assert lean == full, (path, caller)
            statuses.add(lean[0])
    return statuses
