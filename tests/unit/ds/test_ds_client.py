"""The DS client against scripted answers (httpx.MockTransport): retries on 5xx, 429 honouring
Retry-After, pacing under the per-token budget, GraphQL and mutation `errors` as failures."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.core.config import Settings
from app.ds.client import DsClient, DsGraphQLError, DsMutationRefused, DsUnavailable
from app.ds.rules import MutationKind
from tests.support import test_settings

PAGE = {"data": {"demarche": {"dossiers": {"pageInfo": {"hasNextPage": False}, "nodes": []}}}}


def settings(**extra: Any) -> Settings:
    values: dict[str, Any] = {
        "ds_api_url": "https://ds.test/api/v2/graphql",
        "ds_api_token": SecretStr(f"token-{time.monotonic_ns()}"),  # a fresh pacer per test
        "ds_requests_per_minute": 400,
    }
    values.update(extra)
    return test_settings("sqlite+aiosqlite:///:memory:", **values)


def scripted(answers: list[httpx.Response], seen: list[httpx.Request]) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def pages(client: DsClient) -> list[Any]:
    return [page async for page in client.dossiers(1, updated_since=None)]


async def test_5xx_then_429_are_retried_and_retry_after_is_honoured() -> None:
    seen: list[httpx.Request] = []
    answers = [
        httpx.Response(503),
        httpx.Response(429, headers={"Retry-After": "1"}),
        httpx.Response(200, json=PAGE),
    ]
    client = DsClient(settings(ds_max_retries=3), http=scripted(answers, seen))
    started = time.monotonic()
    assert len(await pages(client)) == 1
    assert len(seen) == 3
    assert time.monotonic() - started >= 1.0  # the Retry-After second was waited
    assert seen[0].headers["authorization"].startswith("Bearer token-")
    body = json.loads(seen[0].content)
    assert body["variables"]["first"] <= 100


async def test_retries_run_out() -> None:
    seen: list[httpx.Request] = []
    client = DsClient(settings(ds_max_retries=1), http=scripted([httpx.Response(502)] * 2, seen))
    with pytest.raises(DsUnavailable):
        await pages(client)
    assert len(seen) == 2


async def test_a_too_long_retry_after_fails_at_once() -> None:
    seen: list[httpx.Request] = []
    answers = [httpx.Response(429, headers={"Retry-After": "3600"})]
    client = DsClient(settings(ds_max_retries=3), http=scripted(answers, seen))
    with pytest.raises(DsUnavailable):
        await pages(client)
    assert len(seen) == 1


async def test_graphql_errors_are_failures() -> None:
    seen: list[httpx.Request] = []
    answers = [httpx.Response(200, json={"errors": [{"message": "Démarche introuvable"}]})]
    client = DsClient(settings(), http=scripted(answers, seen))
    with pytest.raises(DsGraphQLError, match="Démarche introuvable"):
        await pages(client)


async def test_a_mutation_refused_by_ds_is_final() -> None:
    seen: list[httpx.Request] = []
    payload = {"dossier": None, "errors": [{"message": "Le dossier est déjà accepté"}]}
    answers = [httpx.Response(200, json={"data": {"dossierAccepter": payload}})]
    client = DsClient(settings(), http=scripted(answers, seen))
    with pytest.raises(DsMutationRefused, match="déjà accepté"):
        await client.mutate(
            MutationKind.ACCEPTER,
            dossier_id="RG9zc2llci0x",
            instructeur_id="SW5zdHJ1Y3RldXItMQ==",
            client_mutation_id="c-1",
            motivation="Subvention accordée",
        )
    sent = json.loads(seen[0].content)
    assert "dossierAccepter(input: $input)" in sent["query"]
    assert sent["variables"]["input"] == {
        "dossierId": "RG9zc2llci0x",
        "instructeurId": "SW5zdHJ1Y3RldXItMQ==",
        "clientMutationId": "c-1",
        "motivation": "Subvention accordée",
    }


async def test_requests_are_paced_under_the_per_token_budget() -> None:
    """DS allows about 400 requests a minute per token: at 120 a minute, 0.5 s apart."""
    seen: list[httpx.Request] = []
    client = DsClient(
        settings(ds_requests_per_minute=120),
        http=scripted([httpx.Response(200, json=PAGE) for _ in range(3)], seen),
    )
    started = time.monotonic()
    for _ in range(3):
        await pages(client)
    assert time.monotonic() - started >= 1.0  # three starts: two intervals of 0.5 s
