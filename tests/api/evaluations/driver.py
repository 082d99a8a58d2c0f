"""Drives evaluations through the API as a front-end would."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from httpx import AsyncClient, Response

from app.auth.principal import Principal, Role
from app.programme.seed import GENERAL_CRITERIA, STRANDS

PROGRAMME = "/api/v1/programme"
PROJECTS = "/api/v1/projects"
EVALUATIONS = "/api/v1/evaluations"
Headers = Callable[[Principal], dict[str, str]]

# Two more agents of the prefecture of the 13 (each evaluates once, R-EVAL-2).
PREF13_BIS = Principal("prefet-13-adjoint", Role.PREFECT, departement="13")
PREF13_TER = Principal("prefet-13-secretaire-general", Role.PREFECT, departement="13")


def grid_codes(strand: str) -> list[str]:
    """The criteria of a strand's seeded grid: the general ones, then the strand's (R-EVAL-1)."""
    (own,) = [s for s in STRANDS if s["code"] == strand]
    return [c["code"] for c in GENERAL_CRITERIA] + [c["code"] for c in own["criteria"]]


def scores(strand: str, default: int = 3, **overrides: int) -> dict[str, int]:
    values = dict.fromkeys(grid_codes(strand), default)
    values.update(overrides)
    return values


def body(strand: str, default: int = 3, **overrides: int) -> dict[str, Any]:
    return {
        "conflict_of_interest": False,
        "scores": scores(strand, default, **overrides),
        "recommendation": "fund",
        "comments": "Dossier solide.",
    }


def problem(response: Response, status: int, code: str) -> dict[str, Any]:
    """The RFC 9457 body of `response`, checked for its status and `code` (rule id or slug)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.text
    payload: dict[str, Any] = response.json()
    assert payload["code"] == code, payload
    return payload


def error_fields(payload: dict[str, Any]) -> set[str]:
    return {e["field"] for e in payload["errors"]}


class Evaluations:
    def __init__(self, client: AsyncClient, headers: Headers) -> None:
        self.client, self.headers = client, headers

    async def post(self, who: Principal, project_id: uuid.UUID, json: dict[str, Any]) -> Response:
        return await self.client.post(
            f"{PROJECTS}/{project_id}/evaluations", json=json, headers=self.headers(who)
        )

    async def evaluate(
        self, who: Principal, project_id: uuid.UUID, json: dict[str, Any]
    ) -> dict[str, Any]:
        response = await self.post(who, project_id, json)
        assert response.status_code == 201, response.text
        assert response.headers["ETag"] == f'"v{response.json()["version"]}"'
        result: dict[str, Any] = response.json()
        return result

    async def list(self, who: Principal, project_id: uuid.UUID, **params: Any) -> Response:
        return await self.client.get(
            f"{PROJECTS}/{project_id}/evaluations", params=params, headers=self.headers(who)
        )

    async def get(self, who: Principal, evaluation_id: str) -> Response:
        return await self.client.get(f"{EVALUATIONS}/{evaluation_id}", headers=self.headers(who))

    async def patch(
        self, who: Principal, evaluation_id: str, json: dict[str, Any], etag: str | None
    ) -> Response:
        extra = {"If-Match": etag} if etag is not None else {}
        return await self.client.patch(
            f"{EVALUATIONS}/{evaluation_id}", json=json, headers={**self.headers(who), **extra}
        )

    async def project(self, who: Principal, project_id: uuid.UUID) -> Response:
        return await self.client.get(f"{PROJECTS}/{project_id}", headers=self.headers(who))

    async def programme(self) -> dict[str, Any]:
        response = await self.client.get(PROGRAMME)
        assert response.status_code == 200
        result: dict[str, Any] = response.json()
        return result
