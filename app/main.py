"""Application factory: nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from app.auth.dependencies import get_principal
from app.auth.principal import Role
from app.auth.router import router as auth_router
from app.budgets.router import envelopes_router, grants_router
from app.candidates.router import router as candidates_router
from app.core.config import Settings, get_settings
from app.core.db import make_engine, make_sessionmaker
from app.core.errors import (
    PROBLEM_DESCRIPTIONS,
    Problem,
    ProblemItem,
    install_error_handlers,
    problem_ref,
)
from app.core.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from app.core.schemas import NO_NUL_PATTERN
from app.core.security import TokenVerifier
from app.ops.router import router as ops_router
from app.programme.router import router as programme_router
from app.projects.router import router as projects_router
from app.reference.router import router as reference_router

API_PREFIX = "/api/v1"
COMPONENT_REF = "#/components/schemas/"
API_VERSION = "1.0.0"
DESCRIPTION = """\
API du guichet départemental FITN7 axe 3 (France Relance) : candidatures des collectivités,
instruction et notation par les préfectures, comités de sélection, enveloppes départementales,
conventions et paiements, tableaux de bord nationaux et données ouvertes.

Erreurs : `application/problem+json` (RFC 9457) avec `code` = identifiant de règle (R-…).
Montants en centimes d'euro (`*_cents`), taux en points de base (`*_bps`).
"""


def _api_route_contexts(app: FastAPI) -> Iterator[RouteContext]:
    """Every APIRoute with its effective path and dependencies.

    FastAPI keeps included routers as `_IncludedRouter` entries in `app.routes` (they are no
    longer flattened into APIRoutes), so walk them the way `get_openapi` does.
    """
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def _route_roles(dependant: Dependant) -> list[str] | None:
    """Roles allowed by the route's `require_roles(...)`; every role for a bare CurrentPrincipal."""
    for dep in dependant.dependencies:
        roles = getattr(dep.call, "guichet_roles", None)
        if roles is not None:
            return list(roles)
        if dep.call is get_principal:
            return [role.value for role in Role]
        nested = _route_roles(dep)
        if nested is not None:
            return nested
    return None


def _operations(schema: dict[str, Any]) -> Iterable[tuple[str, str, dict[str, Any]]]:
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, operation


def _refs(node: Any) -> set[str]:
    """Names of the components referenced anywhere under `node`."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(COMPONENT_REF):
            found.add(ref.removeprefix(COMPONENT_REF))
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _reachable(components: dict[str, Any], roots: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in components:
            continue
        seen.add(name)
        todo.extend(_refs(components[name]) - seen)
    return seen


def _close_response_objects(schema: dict[str, Any]) -> None:
    """API3: response objects carry no key beyond their schema's (`additionalProperties: false`).

    True by construction: FastAPI serialises every 2xx body through its `response_model`, which
    drops undeclared keys. Schemas also used for input are left alone (their `extra` setting is
    what the server enforces), as is any schema that states `additionalProperties` itself.
    """
    components = schema.get("components", {}).get("schemas", {})
    inputs: set[str] = set()
    outputs: set[str] = set()
    for _path, _method, operation in _operations(schema):
        inputs |= _refs(operation.get("requestBody")) | _refs(operation.get("parameters"))
        for status, response in operation.get("responses", {}).items():
            if status.startswith("2"):
                outputs |= _refs(response.get("content"))
    for name in _reachable(components, outputs) - _reachable(components, inputs):
        sub = components[name]
        if sub.get("type") == "object" and "additionalProperties" not in sub:
            sub["additionalProperties"] = False


# Pydantic writes its own constraint names into the JSON Schema when a Field(ge=…, le=…) sits
# over a BeforeValidator (JsonInt in app/core/schemas.py): the bounds are enforced, but a JSON
# Schema reader (clients, the fuzzer) ignores `ge`/`le` and would see an unbounded integer.
_PYDANTIC_BOUNDS = {
    "ge": "minimum",
    "le": "maximum",
    "gt": "exclusiveMinimum",
    "lt": "exclusiveMaximum",
}


def _standard_bounds(node: Any) -> None:
    """Rename leaked pydantic bounds (`ge`, `le`, `gt`, `lt`) to their JSON Schema keywords."""
    if isinstance(node, dict):
        if node.get("type") in ("integer", "number"):
            for leaked, keyword in _PYDANTIC_BOUNDS.items():
                value = node.get(leaked)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    node.setdefault(keyword, node.pop(leaked))
        for value in node.values():
            _standard_bounds(value)
    elif isinstance(node, list):
        for value in node:
            _standard_bounds(value)


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(COMPONENT_REF):
            found.add(ref.removeprefix(COMPONENT_REF))
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _add_no_nul_pattern(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and not any(
            k in node for k in ("pattern", "enum", "const", "format")
        ):
            node["pattern"] = NO_NUL_PATTERN
        for value in node.values():
            _add_no_nul_pattern(value)
    elif isinstance(node, list):
        for value in node:
            _add_no_nul_pattern(value)


def _state_input_texts(schema: dict[str, Any]) -> None:
    """Request bodies refuse NUL in any text (InputModel): say it in their schemas."""
    components = schema.get("components", {}).get("schemas", {})
    pending = set()
    for _path, _method, operation in _operations(schema):
        pending |= _refs(operation.get("requestBody", {}))
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen or name not in components:
            continue
        seen.add(name)
        pending |= _refs(components[name])
    for name in seen:
        _add_no_nul_pattern(components[name])


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The contract: FastAPI's schema with problem+json errors and x-roles on each operation."""
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(
        title="Guichet FITN7 axe 3",
        version=API_VERSION,
        description=DESCRIPTION,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for model in (ProblemItem, Problem):
        sub = model.model_json_schema(ref_template=COMPONENT_REF + "{model}")
        sub.pop("$defs", None)
        components[model.__name__] = sub
    roles_by_op = {
        (context.path_format, method.lower()): _route_roles(context.dependant)
        for context in _api_route_contexts(app)
        for method in context.methods or ()
    }
    for path, method, operation in _operations(schema):
        responses = operation.setdefault("responses", {})
        has_input = bool(operation.get("parameters")) or "requestBody" in operation
        needed = {500, 503}
        if operation.get("security"):
            needed |= {401, 403}
        if has_input:
            needed.add(422)
        if "requestBody" in operation:
            # 400: FastAPI answers a body it cannot even decode (not UTF-8) with 400, where
            # undecodable JSON gets a 422; 413: the body cap (BodyLimitMiddleware).
            needed |= {400, 413}
        for status in needed:
            responses.setdefault(str(status), problem_ref(PROBLEM_DESCRIPTIONS[status]))
        for status, response in responses.items():
            if int(status) >= 400:
                response["content"] = problem_ref(response.get("description", ""))["content"]
                if status in {"422"}:
                    response["description"] = PROBLEM_DESCRIPTIONS[422]
        roles = roles_by_op.get((path, method))
        operation["x-roles"] = roles if roles is not None else ["anonymous"]
    _close_response_objects(schema)
    _standard_bounds(schema)
    _state_input_texts(schema)
    return schema


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for these settings (engine, sessions and verifier live on app.state)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.engine.dispose()

    app = FastAPI(
        title="Guichet FITN7 axe 3",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs" if settings.show_docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.show_docs else None,
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings)
    app.state.sessionmaker = make_sessionmaker(app.state.engine)
    app.state.token_verifier = TokenVerifier(settings)

    install_error_handlers(app)
    app.include_router(ops_router)
    for router in (
        auth_router,
        programme_router,
        candidates_router,
        projects_router,
        grants_router,
        envelopes_router,
        reference_router,
    ):
        app.include_router(router, prefix=API_PREFIX)

    def _openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = _openapi  # type: ignore[method-assign]

    app.add_middleware(SecurityHeadersMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=settings.cors_allow_credentials,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "Idempotency-Key"],
            expose_headers=["ETag", "Retry-After"],
        )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    return app
