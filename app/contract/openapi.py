"""The contract: FastAPI's schema, post-processed so that it states what the server enforces.

Errors are problem+json on every operation, each operation names its roles (`x-roles`),
response objects are closed, integer bounds use JSON Schema keywords, and request texts say
that NUL is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import BaseRoute

from app.auth.dependencies import ROLE_LABELS, get_principal
from app.auth.principal import Role
from app.contract.examples import add_examples
from app.contract.glossary import describe
from app.contract.problem_examples import problem_example
from app.core.errors import (
    PROBLEM_DESCRIPTIONS,
    PROBLEM_MEDIA_TYPE,
    Problem,
    ProblemItem,
    problem_ref,
)
from app.core.location import LOCATION_HEADER
from app.core.ratelimit import document_rate_limits
from app.core.schemas import NO_NUL_PATTERN
from app.core.tags import TAGS

COMPONENT_REF = "#/components/schemas/"


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
    roots: set[str] = set()
    for _path, _method, operation in _operations(schema):
        roots |= _refs(operation.get("requestBody"))
    for name in _reachable(components, roots):
        _add_no_nul_pattern(components[name])


def _tidy_parameters(schema: dict[str, Any]) -> None:
    """Parameters say what a client can send.

    A query or header parameter cannot be null, it is absent: the `anyOf [X, null]` FastAPI
    writes for an optional one becomes X (with the keywords set beside it, e.g. a pattern).
    `If-Match` is required wherever it is read (R-FLOW-3): FastAPI keeps it optional so that a
    missing header reaches `check_if_match` and answers 428 rather than its own 422.
    """
    for _path, _method, operation in _operations(schema):
        for parameter in operation.get("parameters", []):
            sub = parameter.get("schema", {})
            branches = sub.get("anyOf")
            if isinstance(branches, list) and {"type": "null"} in branches:
                rest = [b for b in branches if b != {"type": "null"}]
                if len(rest) == 1:
                    del sub["anyOf"]
                    parameter["schema"] = {**rest[0], **sub}
            if parameter.get("in") == "header" and parameter.get("name") == "If-Match":
                parameter["required"] = True


# OpenAPI links (stateful testing and clients): what each operation's success answer lets a
# client call next; `_with_etag` adds the ETag read as If-Match (R-FLOW-3).
_PROJECT = {"path.project_id": "$response.body#/id"}
_GRANT = {"path.project_id": "$response.body#/project_id"}
_CANDIDATE = {"path.candidate_id": "$response.body#/id"}
_ENVELOPE = {"path.departement": "$response.body#/departement"}
_SAME_ENVELOPE = {"path.departement": "$request.path.departement"}
_NO_PARAMS: dict[str, str] = {}
_EVALUATION = {"path.evaluation_id": "$response.body#/id"}
_EVALUATED = {"path.project_id": "$response.body#/project_id"}


def _with_etag(parameters: dict[str, str]) -> dict[str, str]:
    return {**parameters, "header.If-Match": "$response.header.ETag"}


_PROJECT_NEXT = {
    "read_project": _PROJECT,
    "update_project": _with_etag(_PROJECT),
    "submit_project": _with_etag(_PROJECT),
    "withdraw_project": _with_etag(_PROJECT),
    "start_review": _with_etag(_PROJECT),
    "return_project": _with_etag(_PROJECT),
    "close_project": _with_etag(_PROJECT),
    "sign_convention": _with_etag(_PROJECT),
    "cancel_grant": _with_etag(_PROJECT),
    "read_eligibility": _PROJECT,
    "read_history": _PROJECT,
    "read_grant": _PROJECT,
    "create_payment": _PROJECT,
    "record_final_report": _with_etag(_PROJECT),
    "create_evaluation": _PROJECT,
    "list_evaluations": _PROJECT,
}
_EVALUATION_NEXT = {
    "read_evaluation": _EVALUATION,
    "update_evaluation": _with_etag(_EVALUATION),
    "list_evaluations": _EVALUATED,
    "read_project": _EVALUATED,
}
_GRANT_NEXT = {
    "read_grant": _GRANT,
    "create_payment": _GRANT,
    "record_final_report": _with_etag(_GRANT),
    "cancel_grant": _with_etag(_GRANT),
    "read_project": _GRANT,
}
LINKS: dict[str, dict[str, dict[str, str]]] = {
    "create_project": {
        k: _PROJECT_NEXT[k]
        for k in ("read_project", "update_project", "submit_project", "read_eligibility")
    },
    "read_project": _PROJECT_NEXT,
    "update_project": {k: _PROJECT_NEXT[k] for k in ("update_project", "submit_project")},
    "submit_project": {k: _PROJECT_NEXT[k] for k in ("start_review", "withdraw_project")},
    "start_review": {
        k: _PROJECT_NEXT[k]
        for k in ("return_project", "close_project", "create_evaluation", "list_evaluations")
    },
    "return_project": {k: _PROJECT_NEXT[k] for k in ("update_project", "submit_project")},
    "withdraw_project": {k: _PROJECT_NEXT[k] for k in ("read_project", "read_history")},
    "close_project": {k: _PROJECT_NEXT[k] for k in ("read_project", "read_history")},
    "list_projects": {
        "read_project": {"path.project_id": "$response.body#/items/0/id"},
        "list_projects": {"query.cursor": "$response.body#/next_cursor"},
    },
    "create_evaluation": _EVALUATION_NEXT,
    "read_evaluation": _EVALUATION_NEXT,
    "update_evaluation": _EVALUATION_NEXT,
    "list_evaluations": {
        "read_evaluation": {"path.evaluation_id": "$response.body#/items/0/id"},
        "list_evaluations": {
            "path.project_id": "$request.path.project_id",
            "query.cursor": "$response.body#/next_cursor",
        },
    },
    "sign_convention": _GRANT_NEXT,
    "read_grant": _GRANT_NEXT,
    "record_final_report": {k: _GRANT_NEXT[k] for k in ("read_grant", "cancel_grant")},
    "create_candidate": {"read_candidate": _CANDIDATE, "update_candidate": _with_etag(_CANDIDATE)},
    "read_candidate": {"update_candidate": _with_etag(_CANDIDATE)},
    "update_candidate": {"read_candidate": _CANDIDATE, "update_candidate": _with_etag(_CANDIDATE)},
    "list_candidates": {
        "read_candidate": {"path.candidate_id": "$response.body#/items/0/id"},
        "list_candidates": {"query.cursor": "$response.body#/next_cursor"},
    },
    "read_programme": {"update_programme": _with_etag(_NO_PARAMS)},
    "update_programme": {"update_programme": _with_etag(_NO_PARAMS), "read_programme": _NO_PARAMS},
    "list_envelopes": {
        "read_envelope": {"path.departement": "$response.body#/items/0/departement"},
        "read_ledger": {"path.departement": "$response.body#/items/0/departement"},
        "list_envelopes": {"query.cursor": "$response.body#/next_cursor"},
    },
    "read_envelope": {
        "read_ledger": _ENVELOPE,
        "read_forfaits": _ENVELOPE,
        "create_allocation": _ENVELOPE,
    },
    "read_forfaits": {"set_forfaits": _with_etag(_ENVELOPE)},
    "set_forfaits": {"read_forfaits": _ENVELOPE, "set_forfaits": _with_etag(_ENVELOPE)},
    "read_ledger": {
        "read_ledger": {**_SAME_ENVELOPE, "query.cursor": "$response.body#/next_cursor"},
        "read_envelope": _SAME_ENVELOPE,
    },
}


def _add_links(schema: dict[str, Any]) -> None:
    """Attach LINKS to each source operation's success response; every name must exist."""
    by_id = {op["operationId"]: op for _path, _method, op in _operations(schema)}
    for source, targets in LINKS.items():
        unknown = ({source} | set(targets)) - set(by_id)
        if unknown:
            raise ValueError(f"OpenAPI links name unknown operations: {sorted(unknown)}")
        responses = by_id[source]["responses"]
        (status,) = [code for code in responses if code.startswith("2")]
        responses[status]["links"] = {
            f"{source}_to_{target}": {"operationId": target, "parameters": parameters}
            for target, parameters in targets.items()
        }


def _reads_if_match(operation: dict[str, Any]) -> bool:
    return any(
        p.get("in") == "header" and p.get("name") == "If-Match"
        for p in operation.get("parameters", [])
    )


_ROLES = {role.value for role in Role}


def _add_problem_examples(schema: dict[str, Any]) -> None:
    """Every error response shows a problem+json example (issue 12): the route's own when it
    gave one (`problems(..., examples=...)`), else the status's usual one at this path."""
    for path, _method, operation in _operations(schema):
        if_match = _reads_if_match(operation)
        for status, response in operation.get("responses", {}).items():
            if int(status) < 400:
                continue
            media = response.setdefault("content", {}).setdefault(PROBLEM_MEDIA_TYPE, {})
            media.setdefault("schema", {"$ref": COMPONENT_REF + "Problem"})
            if "example" not in media:
                media["example"] = problem_example(int(status), path, if_match=if_match)
                if status == "403":  # the roles this operation admits (require_roles)
                    names = ", ".join(
                        ROLE_LABELS[Role(r)] for r in operation.get("x-roles", []) if r in _ROLES
                    )
                    if names:
                        media["example"]["detail"] = f"Action réservée aux rôles : {names}."


def _unknown_programme(path: str) -> dict[str, Any]:
    """The 404 of a route whose only lookup is its `programme` query parameter."""
    example = {
        "type": "https://guichet-fitn7.numerique.gouv.fr/problems/programme-not-found",
        "title": "Programme introuvable",
        "status": 404,
        "detail": "Le programme « FITN7-AXE4 » n'existe pas : voir les programmes du service "
        "(`GET /programmes`).",
        "instance": path,
        "code": "R-PROG-2",
        "errors": [],
        "request_id": "01JDZ8V4KQ3M2N5P7R9S1T3V5X",
    }
    return {
        "description": "Programme inconnu (R-PROG-2).",
        "content": {PROBLEM_MEDIA_TYPE: {"example": example}},
    }


def build_openapi(app: FastAPI, routes: Sequence[BaseRoute] | None = None) -> dict[str, Any]:
    """The contract: FastAPI's schema with problem+json errors and x-roles on each operation
    (its paths in the order of `routes`, the app's by default)."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes if routes is None else routes,
        tags=TAGS,
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
            # 415: a body sent under another media type than JSON (app.core.exception_handlers).
            needed |= {400, 413, 415}
        if _reads_if_match(operation):
            needed.add(400)  # a malformed ETag (app.core.concurrency)
        if "404" not in responses and any(
            p.get("in") == "query" and p.get("name") == "programme"
            for p in operation.get("parameters", [])
        ):  # R-PROG-2: an unknown programme (app.programme.dependencies)
            responses["404"] = _unknown_programme(path)
        for status in needed:
            responses.setdefault(str(status), problem_ref(PROBLEM_DESCRIPTIONS[status]))
        for status, response in responses.items():
            if int(status) >= 400:
                given = response.get("content", {}).get(PROBLEM_MEDIA_TYPE, {}).get("example")
                response["content"] = problem_ref(response.get("description", ""))["content"]
                if given is not None:
                    response["content"][PROBLEM_MEDIA_TYPE]["example"] = given
                if status in {"422"}:
                    response["description"] = PROBLEM_DESCRIPTIONS[422]
        if "201" in responses:  # issue 12: every creation says where to read what it made
            responses["201"].setdefault("headers", {})["Location"] = LOCATION_HEADER
        roles = roles_by_op.get((path, method))
        operation["x-roles"] = roles if roles is not None else ["anonymous"]
    document_rate_limits(schema)  # 429 wherever the rate limiter runs (API4)
    _close_response_objects(schema)
    _standard_bounds(schema)
    _state_input_texts(schema)
    _tidy_parameters(schema)
    _add_links(schema)
    _add_problem_examples(schema)
    describe(components)  # every schema and field described, in French (issue 12)
    add_examples(schema)  # every request body and 2xx JSON answer illustrated (issue 12)
    return schema
