"""API5 (BFLA): the role × operation matrix of the committed contract, cell by cell.

Every operation declares its roles in `x-roles`. A caller whose role is not listed gets 403
(before any body validation or lookup); a listed role never gets a 403 for its role; an
anonymous caller gets 401 on every operation that is not public.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from httpx import AsyncClient

from app.openapi_export import CONTRACT_PATH
from tests.conftest import ACTORS

CONTRACT = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))
PRINCIPALS = {
    "candidate": ACTORS.cand_a,
    "prefect": ACTORS.pref13,
    "dinum": ACTORS.dinum,
    "anct": ACTORS.anct,
}
PATH_VALUES = {"departement": "13", "siren": "211300553"}


def _operations() -> list[tuple[str, str, list[str]]]:
    found = []
    for path, item in CONTRACT["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                found.append((method.upper(), path, operation["x-roles"]))
    return sorted(found)


def _url(path: str) -> str:
    for name, value in PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    while "{" in path:  # any other parameter is an id
        start, end = path.index("{"), path.index("}")
        path = path[:start] + str(uuid.uuid4()) + path[end + 1 :]
    return path


CELLS = [
    (method, path, role, role in roles)
    for method, path, roles in _operations()
    if roles != ["anonymous"]
    for role in PRINCIPALS
]


def test_every_operation_declares_its_roles() -> None:
    operations = _operations()
    assert len(operations) >= 30
    for method, path, roles in operations:
        assert roles, (method, path)
        assert set(roles) <= {*PRINCIPALS, "anonymous"}, (method, path, roles)


@pytest.mark.parametrize(("method", "path", "role", "allowed"), CELLS)
async def test_role_matrix_cell(
    client: AsyncClient, headers: Any, method: str, path: str, role: str, allowed: bool
) -> None:
    body = {} if method in {"POST", "PUT", "PATCH"} else None
    response = await client.request(
        method,
        _url(path),
        json=body,
        headers={**headers(PRINCIPALS[role]), "If-Match": '"v1"'},
    )
    assert response.status_code < 500, response.text
    if allowed:
        assert response.status_code != 403 or response.json()["code"] != "forbidden-role", (
            method,
            path,
            role,
            response.text,
        )
    else:
        assert response.status_code == 403, (method, path, role, response.text)
        assert response.json()["code"] == "forbidden-role"


@pytest.mark.parametrize(
    ("method", "path"),
    [(m, p) for m, p, roles in _operations() if roles != ["anonymous"]],
)
async def test_anonymous_calls_get_401(client: AsyncClient, method: str, path: str) -> None:
    body = {} if method in {"POST", "PUT", "PATCH"} else None
    response = await client.request(method, _url(path), json=body)
    assert response.status_code == 401, (method, path, response.text)
    assert response.headers["WWW-Authenticate"] == "Bearer"
