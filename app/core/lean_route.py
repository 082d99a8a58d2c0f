"""Lean routes (issue 28): a hot request solved without FastAPI's dependency machinery.

In-process, with no server, no rate limiter and no access log, FastAPI's handling of the envelope
read (its dependencies solved, twelve parameter groups looked up for three dependants, the
response validated by its model) cost more CPU than the read's statement and its JSON together
(cProfile, 2026-12-06). A route declared with `route_class=LeanRoute` whose endpoint is marked
`@lean` answers its requests (of its methods: the hot reads' GET, the submission's POST) through
a plan made once, at startup, from the route's own `Dependant` (what FastAPI solves per request):

- its path, query and header parameters validated by FastAPI's own fields
  (`request_params_to_args`, the same validators, aliases and defaults), read from the matched
  path, the query string and the headers (the submission's If-Match);
- its `Request` and `Response` parameters;
- its sub-dependencies, each of one of two kinds: the read's access (`read_access`: the caller
  verified and its role checked, the clock, the pooled connection, exactly as the dependency
  does, since it is the dependency's own code), or the write's (`write_access`: the same, then
  the request's session, committed when the endpoint returned) and plain async functions of
  the request and query parameters (the programme a read names);
- the endpoint's dict written with the bytes of its response model (`app.core.lean_json`), the
  endpoint's `Response` headers (its ETag) added, as FastAPI does; a `Response` it returns
  (the submission's) sent as it is.

Anything else keeps FastAPI's path, whole: a parameter that does not validate (FastAPI then
answers its 422, with its own words), a query parameter or a header given twice, an overridden
dependency (a test's). A lean endpoint takes no body. An error the endpoint raises (401, 403,
404…) reaches the same exception handlers, from Starlette's exception middleware. The contract
is FastAPI's, from the same route: nothing of it changes. A route whose dependencies fall
outside these kinds fails at startup (`LeanRouteError`), never silently.
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from fastapi import Request, Response, params
from fastapi._compat.shared import field_annotation_is_sequence
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import ResponseValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import Headers, QueryParams
from starlette.types import Receive, Scope, Send

from app.core.lean_json import JsonShape

LEAN_MARK = "guichet_lean"
F = TypeVar("F", bound=Callable[..., Any])


@overload
def lean(endpoint: F, *, shape: bool = False) -> F: ...
@overload
def lean(endpoint: None = None, *, shape: bool = False) -> Callable[[F], F]: ...
def lean(endpoint: F | None = None, *, shape: bool = False) -> F | Callable[[F], F]:
    """Mark a GET endpoint for the lean path of its `LeanRoute` (under the route decorator).
    Its answer is validated by the response model and written by it, as FastAPI does; with
    `shape`, whose fields have the model's types already, written with the model's bytes
    without validation (`app.core.lean_json`)."""

    def mark(function: F) -> F:
        setattr(function, LEAN_MARK, "shape" if shape else "model")
        return function

    return mark if endpoint is None else mark(endpoint)


class LeanRouteError(TypeError):
    """A route marked lean whose dependencies the lean path cannot solve."""


class LeanAccess(abc.ABC):
    """The access a lean route opens as its dependency does (a read's connection, a write's
    session): implemented by `app.auth.dependencies`' `read_access` and `write_access`."""

    @abc.abstractmethod
    def opened(self, request: Request) -> Any:
        """An async context manager: what the route works with, for this request."""


@dataclass(frozen=True, slots=True)
class _Sub:
    """A sub-dependency: its parameter name, its call and how it is called."""

    name: str
    call: Callable[..., Any]
    access: bool  # the read's access (a context manager), else a plain async function
    request_param: str | None
    query: tuple[_Param, ...]


class _Plan:
    """What FastAPI would solve for this route, solved in a fixed order."""

    def __init__(self, route: APIRoute) -> None:
        dependant = route.dependant
        _only(dependant, route, allowed_dependencies=True, headers=True)
        self.path_fields = tuple(_param(f, route) for f in dependant.path_params)
        self.query_fields = tuple(_param(f, route) for f in dependant.query_params)
        self.header_fields = tuple(_param(f, route) for f in dependant.header_params)
        self.request_param = dependant.request_param_name
        self.response_param = dependant.response_param_name
        subs = [_sub(sub, route) for sub in dependant.dependencies]
        access = [s for s in subs if s.access]
        if len(access) > 1:
            raise LeanRouteError(f"{route.path}: one read access at most")
        # Called in FastAPI's order, the read's access at its place: an error a dependency
        # raises is the first one FastAPI would meet (no token: 401 before a bad cursor's 422).
        at = subs.index(access[0]) if access else len(subs)
        self.access = access[0] if access else None
        self.before, self.after = subs[:at], subs[at + 1 :]
        self.calls = frozenset(s.call for s in subs)
        self.endpoint: Callable[..., Awaitable[Any]] = dependant.call  # type: ignore[assignment]
        if route.response_model is None or route.response_field is None:
            raise LeanRouteError(f"{route.path}: a lean route declares its response model")
        self.status_code = route.status_code
        if getattr(route.endpoint, LEAN_MARK) == "shape":
            self.dump: Callable[[Any], bytes] = JsonShape(route.response_model).dump
        else:
            self.dump = _model_dump(route)


def _model_dump(route: APIRoute) -> Callable[[Any], bytes]:
    """The answer validated by the route's response model, then written by it, as FastAPI's
    `serialize_response` does (a ResponseValidationError when it does not validate)."""
    field = route.response_field
    assert field is not None

    def dump(content: Any) -> bytes:
        value, errors = field.validate(content, {}, loc=("response",))
        if errors:
            raise ResponseValidationError(errors=errors, body=content)
        written: bytes = field.serialize_json(
            value,
            include=route.response_model_include,
            exclude=route.response_model_exclude,
            by_alias=route.response_model_by_alias,
            exclude_unset=route.response_model_exclude_unset,
            exclude_defaults=route.response_model_exclude_defaults,
            exclude_none=route.response_model_exclude_none,
        )
        return written

    return dump


def _only(
    dependant: Dependant, route: APIRoute, *, allowed_dependencies: bool, headers: bool = False
) -> None:
    unsupported = (
        (dependant.header_params and not headers)
        or dependant.cookie_params
        or dependant.body_params
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or (dependant.dependencies and not allowed_dependencies)
        or not inspect.iscoroutinefunction(dependant.call)
    )
    if unsupported:
        raise LeanRouteError(f"{route.path}: {dependant.name or dependant.call} is not lean")


def _sub(sub: Dependant, route: APIRoute) -> _Sub:
    call = sub.call
    if sub.name is None or call is None:
        raise LeanRouteError(f"{route.path}: a dependency without a parameter")
    if isinstance(call, LeanAccess):
        return _Sub(sub.name, call, True, None, ())
    _only(sub, route, allowed_dependencies=False)
    if sub.path_params or sub.response_param_name:
        raise LeanRouteError(f"{route.path}: {sub.name} is not a plain async function")
    query = tuple(_param(f, route) for f in sub.query_params)
    return _Sub(sub.name, call, False, sub.request_param_name, query)


_EMPTY = QueryParams(b"")


def _query(scope: Scope) -> QueryParams | None:
    """The query parameters, None when one is given twice (FastAPI's path decides then)."""
    raw = scope["query_string"]
    if not raw:
        return _EMPTY
    params = QueryParams(raw)
    if len(params.multi_items()) != len(params):
        return None
    return params


def _headers(fields: tuple[_Param, ...], scope: Scope) -> dict[str, Any] | None:
    """The header parameters validated, None when one is given twice, is missing or does not
    validate (FastAPI's path decides then)."""
    if not fields:
        return {}
    headers = Headers(scope=scope)
    if any(len(headers.getlist(p.alias)) > 1 for p in fields):
        return None
    return _params(fields, headers)


@dataclass(frozen=True, slots=True)
class _Param:
    """A scalar path or query parameter, validated by its FastAPI field as FastAPI does
    (`request_params_to_args`: its alias, its default when absent, its validators)."""

    field: Any
    name: str
    alias: str
    loc: tuple[str, str]
    required: bool
    default: Any
    validate_default: bool


def _param(field: Any, route: APIRoute) -> _Param:
    info = field.field_info
    annotation = info.annotation
    if field_annotation_is_sequence(annotation) or not isinstance(info, params.Param):
        raise LeanRouteError(f"{route.path}: parameter {field.name} is not a scalar")
    default = None if info.is_required() else field.default
    if not isinstance(default, str | int | float | bool | type(None)):
        raise LeanRouteError(f"{route.path}: parameter {field.name} has a mutable default")
    return _Param(
        field=field,
        name=field.name,
        alias=field.alias,
        loc=(info.in_.value, field.alias),
        required=info.is_required(),
        default=default,
        validate_default=bool(info.validate_default),
    )


def _params(fields: tuple[_Param, ...], received: Any) -> dict[str, Any] | None:
    """These parameters validated, None when one is missing or does not validate (FastAPI's
    path then answers its 422)."""
    values: dict[str, Any] = {}
    for p in fields:
        value = received.get(p.alias)
        if value is None:
            if p.required:
                return None
            if not p.validate_default:
                values[p.name] = p.default
                continue
            value = p.default
        valid, errors = p.field.validate(value, values, loc=p.loc)
        if errors:
            return None
        values[p.name] = valid
    return values


class LeanRoute(APIRoute):
    """An APIRoute whose `@lean` endpoint's requests take the lean path (module docstring)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.lean_plan = _Plan(self) if getattr(endpoint, LEAN_MARK, False) else None

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        plan = self.lean_plan
        if (
            plan is None
            or scope["method"] not in (self.methods or ())
            or not await _serve(plan, scope, receive, send)
        ):
            await super().handle(scope, receive, send)


_JSON_TYPE = (b"content-type", b"application/json")


async def _serve(plan: _Plan, scope: Scope, receive: Receive, send: Send) -> bool:
    """Answer the request on the lean path; False when FastAPI's path must answer it instead
    (nothing was sent then)."""
    overrides = scope["app"].dependency_overrides
    if overrides and not plan.calls.isdisjoint(overrides):
        return False
    query = _query(scope)
    values = _params(plan.path_fields, scope.get("path_params", {}))
    own = _params(plan.query_fields, query) if query is not None else None
    headed = _headers(plan.header_fields, scope)
    if values is None or own is None or query is None or headed is None:
        return False
    values.update(own)
    values.update(headed)
    # Every parameter validated before any dependency is called: one that does not validate
    # takes FastAPI's path before anything was done.
    kwargs: list[dict[str, Any]] = []
    for sub in plan.before + plan.after:
        found = _params(sub.query, query)
        if found is None:
            return False
        kwargs.append(found)
    request = Request(scope, receive, send)
    if plan.request_param is not None:
        values[plan.request_param] = request
    # The endpoint's `Response` parameter, as FastAPI makes it: headers only, no status.
    response = Response()
    del response.headers["content-length"]
    response.status_code = None  # type: ignore[assignment]
    if plan.response_param is not None:
        values[plan.response_param] = response
    solved = iter(kwargs)
    for sub in plan.before:
        values[sub.name] = await _call(sub, next(solved), request)
    if plan.access is None:
        result = await plan.endpoint(**values)
    else:
        # The connection goes back to the pool before the response is sent, as with FastAPI.
        async with plan.access.call.opened(request) as opened:  # type: ignore[attr-defined]
            values[plan.access.name] = opened
            for sub in plan.after:
                values[sub.name] = await _call(sub, next(solved), request)
            result = await plan.endpoint(**values)
    if isinstance(result, Response):
        await result(scope, receive, send)
        return True
    # The answer sent as Starlette's `Response(body, media_type="application/json")` sends
    # it, with the endpoint's headers after its own, without building a second Response.
    body = plan.dump(result)
    headers = [(b"content-length", b"%d" % len(body)), _JSON_TYPE, *response.headers.raw]
    status = response.status_code or plan.status_code or 200
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return True


async def _call(sub: _Sub, kwargs: dict[str, Any], request: Request) -> Any:
    if sub.request_param is not None:
        kwargs[sub.request_param] = request
    return await sub.call(**kwargs)
