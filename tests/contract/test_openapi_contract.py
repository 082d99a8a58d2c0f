"""The committed contract `openapi/openapi.json`: in sync with the app, complete and bounded.

API9 (inventory): the committed file is what the app generates, every route is in it, and no
debug or v0 route exists. API3: response objects forbid extra keys. API4: every string, integer
and parameter carries bounds, so that invalid data is refused with 422 (never a 500) and the
fuzzer (test_schemathesis.py) sends out-of-range values on purpose.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from app.auth.principal import Role
from app.core.errors import PROBLEM_MEDIA_TYPE, Problem
from app.main import create_app
from app.openapi_export import CONTRACT_PATH, contract_settings, render_contract

REGENERATE = "python -m app openapi"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
BOUNDED_FORMATS = {"date", "date-time", "uuid"}
REF = "#/components/schemas/"

# Fields whose schema still lacks a bound, each with the file to fix. Keep this list short:
# adding a field here needs a reason; removing one is always welcome.
UNBOUNDED_ALLOWED: dict[str, str] = {}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(contract_settings())


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    return json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _operations(contract: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in contract["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_committed_contract_matches_the_app() -> None:
    generated = render_contract()
    committed = CONTRACT_PATH.read_text(encoding="utf-8") if CONTRACT_PATH.exists() else ""
    if generated == committed:
        return
    if os.environ.get("UPDATE_OPENAPI") == "1":
        CONTRACT_PATH.write_text(generated, encoding="utf-8")
        return
    diff = list(
        difflib.unified_diff(
            committed.splitlines(),
            generated.splitlines(),
            fromfile="openapi/openapi.json (committed)",
            tofile="openapi/openapi.json (generated)",
            lineterm="",
        )
    )
    shown = "\n".join(diff[:80]) + ("\n… (diff cut at 80 lines)" if len(diff) > 80 else "")
    pytest.fail(
        f"openapi/openapi.json is out of date. Review the change, then run `{REGENERATE}` "
        f"(or UPDATE_OPENAPI=1 pytest tests/contract).\n{shown}",
        pytrace=False,
    )


def test_every_route_is_in_the_contract_and_vice_versa(
    app: FastAPI, contract: dict[str, Any]
) -> None:
    routes = {
        (context.path_format, method.lower())
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        for method in context.methods or ()
    }
    documented = {(path, method) for path, method, _ in _operations(contract)}
    assert routes - documented == set(), "routes missing from the contract (API9)"
    assert documented - routes == set(), "operations in the contract that the app does not serve"


def test_no_debug_or_v0_route(app: FastAPI) -> None:
    paths = {
        context.path_format or context.path or "" for context in iter_route_contexts(app.routes)
    }
    assert paths, "no route found: the route walk is broken"
    offending = sorted(p for p in paths if "debug" in p.lower() or "/v0" in p.lower())
    assert offending == []


def test_every_operation_has_an_operation_id_and_roles(contract: dict[str, Any]) -> None:
    known_roles = {"anonymous"} | {role.value for role in Role}
    operation_ids = []
    for path, method, operation in _operations(contract):
        where = f"{method.upper()} {path}"
        assert operation.get("operationId"), f"{where}: no operationId"
        operation_ids.append(operation["operationId"])
        roles = operation.get("x-roles")
        assert isinstance(roles, list) and roles, f"{where}: no x-roles"
        assert set(roles) <= known_roles, f"{where}: unknown roles {roles}"
        # A secured operation names the roles it admits; a public one says so.
        assert ("anonymous" in roles) == (not operation.get("security")), where
    assert len(operation_ids) == len(set(operation_ids)), "duplicate operationId"


def test_every_error_response_is_a_problem(contract: dict[str, Any]) -> None:
    for path, method, operation in _operations(contract):
        for status, response in operation["responses"].items():
            if status[0] in "45":
                where = f"{method.upper()} {path} {status}"
                content = response.get("content", {})
                assert list(content) == list(PROBLEM_CONTENT), f"{where}: not problem+json"
                media = content["application/problem+json"]
                assert media["schema"] == PROBLEM_CONTENT["application/problem+json"]["schema"], (
                    f"{where}: not the Problem schema"
                )
                # issue 12: each error status shows an example of the problem it answers,
                # valid against Problem, every `errors[]` item in its {code, field, in, message}
                example = media.get("example")
                assert example is not None, f"{where}: no problem+json example"
                Problem.model_validate(example)
                assert example["status"] == int(status), where
                for item in example["errors"]:
                    assert set(item) == {"code", "field", "in", "message"}, where


def _resolve(contract: dict[str, Any], node: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(REF):
        name = ref.removeprefix(REF)
        return name, contract["components"]["schemas"][name]
    return None, node


def _subschemas(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        yield from node.get(key, [])
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            yield node[key]
    yield from (node.get("properties") or {}).values()


def test_response_objects_forbid_extra_keys(contract: dict[str, Any]) -> None:
    """API3: every object reachable from a *Read / *List component is closed."""
    components = contract["components"]["schemas"]
    roots = [name for name in components if name.endswith(("Read", "List"))]
    assert roots, "no Read/List component found"
    open_objects: set[str] = set()
    seen: set[int] = set()

    def visit(where: str, node: dict[str, Any]) -> None:
        name, node = _resolve(contract, node)
        where = name or where
        if id(node) in seen:
            return
        seen.add(id(node))
        if node.get("type") == "object" or "properties" in node:
            if node.get("additionalProperties") is not False:
                open_objects.add(where)
        for child in _subschemas(node):
            visit(where, child)

    for root in roots:
        visit(root, components[root])
    assert sorted(open_objects) == [], "response objects without additionalProperties: false"


def _unbounded(node: dict[str, Any]) -> str | None:
    """Why this leaf schema is unbounded, or None when it is bounded (or not a scalar)."""
    if "enum" in node or "const" in node:
        return None
    leaked = sorted(k for k in ("ge", "gt", "le", "lt") if k in node)
    if leaked:
        # Pydantic writes its own keys when a Field(ge=…) sits over a BeforeValidator:
        # put the validator after the Field in Annotated[...] so the bounds reach the schema.
        return f"pydantic {'/'.join(leaked)} instead of minimum/maximum"
    kind = node.get("type")
    if kind == "string":
        if any(k in node for k in ("maxLength", "pattern")):
            return None
        if node.get("format") in BOUNDED_FORMATS:
            return None
        return "string without maxLength, pattern, enum, const or format"
    if kind in ("integer", "number"):
        low = "minimum" in node or "exclusiveMinimum" in node
        high = "maximum" in node or "exclusiveMaximum" in node
        if low and high:
            return None
        missing = " and ".join(n for n, ok in (("minimum", low), ("maximum", high)) if not ok)
        return f"{kind} without {missing}"
    return None


def _scalar_problems(where: str, node: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Unbounded scalars in a property schema (its anyOf branches and array items included)."""
    if "$ref" in node:
        return  # the component is checked on its own
    reason = _unbounded(node)
    if reason:
        yield where, reason
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in node.get(key, []):
            yield from _scalar_problems(where, branch)
    if isinstance(node.get("items"), dict):
        yield from _scalar_problems(f"{where}[]", node["items"])
    for name, prop in (node.get("properties") or {}).items():
        yield from _scalar_problems(f"{where}.{name}", prop)


def _lines(found: dict[str, str]) -> str:
    return "\n".join(f"  {where}: {reason}" for where, reason in sorted(found.items()))


def test_every_scalar_in_the_components_is_bounded(contract: dict[str, Any]) -> None:
    found: dict[str, str] = {}
    for name, component in contract["components"]["schemas"].items():
        for where, reason in _scalar_problems(name, component):
            found[where] = reason
    unexpected = {k: v for k, v in found.items() if k not in UNBOUNDED_ALLOWED}
    assert not unexpected, "unbounded fields (add max_length, ge/le, pattern…):\n" + _lines(
        unexpected
    )
    fixed = sorted(set(UNBOUNDED_ALLOWED) - set(found))
    assert fixed == [], f"bounded now, remove from UNBOUNDED_ALLOWED: {fixed}"


def test_every_parameter_is_bounded(contract: dict[str, Any]) -> None:
    """Path parameters above all (ids), but query and header parameters too."""
    found = {}
    for path, method, operation in _operations(contract):
        for parameter in operation.get("parameters", []):
            where = f"{method.upper()} {path} {parameter['in']}:{parameter['name']}"
            for _, reason in _scalar_problems(where, parameter["schema"]):
                found[where] = reason
            if parameter["in"] == "path":
                schema = parameter["schema"]
                assert "anyOf" not in schema, f"{where}: a path parameter cannot be null"
    assert not found, "unbounded parameters:\n" + _lines(found)
