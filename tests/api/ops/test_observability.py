"""Observability (issue 11): GET /metrics in the Prometheus text format (parsed by
prometheus_client's own parser), correct under several workers (multiprocess mode: two
processes' counts summed), closed in production; one JSON log line per request; the request
id echoed in the response header and in every problem body."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession

from app.__main__ import prepare_metrics_dir
from app.core.clock import Clock
from app.core.db import get_clock
from app.main import create_app
from tests.api.budgets.driver import Money
from tests.conftest import ACTORS, MARSEILLE_SIREN
from tests.factories import make_candidate, make_project
from tests.support import test_settings

ROOT = Path(__file__).resolve().parents[3]
METRICS_TOKEN = "m" * 40


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by (name, labels): parsed by prometheus_client."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def healthz_count(found: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> float:
    key = (
        "guichet_http_requests_total",
        frozenset({("method", "GET"), ("route", "/healthz"), ("status", "200")}),
    )
    return found.get(key, 0.0)


async def test_metrics_are_prometheus_text(
    client: AsyncClient, session: AsyncSession, headers: Any
) -> None:
    money = Money(client, session, headers, ACTORS)
    assert (await money.allocate("13", 10_000_000)).status_code == 201
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    project = await make_project(session, candidate=marseille, status="in_review")
    await money.commit(project.id, 1_000_000)

    before = samples((await client.get("/metrics")).text)
    for _ in range(2):
        assert (await client.get("/healthz")).status_code == 200
    assert (
        await client.get(f"/api/v1/projects/{uuid.uuid4()}", headers=headers(ACTORS.pref13))
    ).status_code == 404
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)
    assert healthz_count(after) - healthz_count(before) == 2
    not_found = (
        "guichet_http_requests_total",
        frozenset({("method", "GET"), ("route", "/api/v1/projects/{project_id}"),
                   ("status", "404")}),
    )  # fmt: skip
    assert after[not_found] - before.get(not_found, 0.0) == 1  # the route template, not the id
    latency = (
        "guichet_http_request_duration_seconds_count",
        frozenset({("method", "GET"), ("route", "/healthz")}),
    )
    assert after[latency] - before.get(latency, 0.0) == 2
    assert ("guichet_db_pool_connections_in_use", frozenset()) in after
    # computed at scrape time from the envelopes
    assert after[("guichet_envelope_committed_euros", frozenset({("departement", "13")}))] == 10_000
    assert after[("guichet_envelope_paid_euros", frozenset({("departement", "13")}))] == 0
    # R-HOOK-1: the outbox, read at scrape time (no subscription here: nothing waits)
    assert after[("guichet_webhook_outbox_depth", frozenset())] == 0
    assert after[("guichet_webhook_outbox_oldest_age_seconds", frozenset())] == 0


async def test_metrics_show_the_webhook_outbox(
    client: AsyncClient, session: AsyncSession, headers: Any
) -> None:
    """R-HOOK-1: a commitment a DINUM subscriber awaits is one pending delivery (the worker is
    off in tests), and its age grows from its creation."""
    subscribed = await client.post(
        "/api/v1/webhooks",
        json={"url": "https://93.184.216.34/guichet", "event_types": ["grant.committed"]},
        headers=headers(ACTORS.dinum),
    )
    assert subscribed.status_code == 201, subscribed.text
    money = Money(client, session, headers, ACTORS)
    assert (await money.allocate("13", 10_000_000)).status_code == 201
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    project = await make_project(session, candidate=marseille, status="in_review")
    await money.commit(project.id, 1_000_000)
    found = samples((await client.get("/metrics")).text)
    assert found[("guichet_webhook_outbox_depth", frozenset())] == 1
    assert found[("guichet_webhook_outbox_oldest_age_seconds", frozenset())] >= 0


async def test_rate_limit_refusals_are_counted(database_url: str, app: FastAPI) -> None:
    limited = create_app(test_settings(database_url, rate_limits={"anonymous_read": "1/minute"}))
    key = {"route_class": "read", "role": "anonymous"}
    before = REGISTRY.get_sample_value("guichet_rate_limit_refusals_total", key) or 0.0
    try:
        async with AsyncClient(transport=ASGITransport(app=limited), base_url="http://t") as http:
            assert (await http.get("/api/v1/reference/collectivites/211300553")).status_code != 429
            refused = await http.get("/api/v1/reference/collectivites/211300553")
            assert refused.status_code == 429
            # the 429 of the limiter carries the request id too
            assert refused.json()["request_id"] == refused.headers["x-request-id"]
    finally:
        await limited.state.engine.dispose()
    assert REGISTRY.get_sample_value("guichet_rate_limit_refusals_total", key) == before + 1


WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from httpx import ASGITransport, AsyncClient
    from app.core.config import Settings
    from app.main import create_app

    async def main(n: int, url: str) -> None:
        app = create_app(Settings(_env_file=None, environment="test", database_url=url))
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://w") as http:
            for _ in range(n):
                assert (await http.get("/healthz")).status_code == 200

    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
    """
)


@pytest.fixture
def multiproc_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "prometheus"
    path.mkdir()
    yield path
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)


async def test_two_workers_counts_are_summed(
    client: AsyncClient, multiproc_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes write to one PROMETHEUS_MULTIPROC_DIR, as two uvicorn workers do; the
    scrape (answered by a third) sums them."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir), "PYTHONPATH": str(ROOT)}
    env.pop("GUICHET_DATABASE_URL", None)
    url = f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}"
    for count in (3, 4):
        subprocess.run(
            [sys.executable, "-c", WORKER, str(count), url],
            env=env,
            cwd=ROOT,
            check=True,
            timeout=120,
            capture_output=True,
        )
    assert len(list(multiproc_dir.glob("counter_*.db"))) == 2  # one file per process
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(multiproc_dir))
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert healthz_count(samples(response.text)) == 7


def test_serve_prepares_the_multiprocess_directory(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    assert prepare_metrics_dir(1, environ) is None and environ == {}
    path = prepare_metrics_dir(2, environ)
    assert path is not None and environ["PROMETHEUS_MULTIPROC_DIR"] == path
    Path(path, "counter_123.db").write_bytes(b"stale")
    assert prepare_metrics_dir(2, environ) == path
    assert list(Path(path).iterdir()) == []  # a previous run's files are wiped
    Path(path).rmdir()


@pytest.mark.parametrize(
    ("token", "networks", "sent", "status"),
    [
        (None, "", None, 404),  # production without a setting: off
        (METRICS_TOKEN, "", None, 401),
        (METRICS_TOKEN, "", "wrong-token-" + "x" * 30, 401),
        (METRICS_TOKEN, "", METRICS_TOKEN, 200),
        (None, "10.0.0.0/8", None, 403),
        (None, "127.0.0.0/8", None, 200),  # the test client's address
        (METRICS_TOKEN, "10.0.0.0/8", METRICS_TOKEN, 200),
    ],
)
async def test_metrics_are_not_public_in_production(
    database_url: str, app: FastAPI, token: str | None, networks: str, sent: str | None, status: int
) -> None:
    production = create_app(
        test_settings(
            database_url,
            environment="production",
            jwt_secret="p" * 40,
            documents_scanner_url="unix:///run/clamav/clamd.ctl",
            metrics_token=token,
            metrics_allowed_networks=networks,
        )
    )
    production.dependency_overrides[get_clock] = lambda: Clock(timedelta(0))
    try:
        async with AsyncClient(
            transport=ASGITransport(app=production, client=("127.0.0.1", 4321)),
            base_url="http://t",
        ) as http:
            extra = {"Authorization": f"Bearer {sent}"} if sent else {}
            response = await http.get("/metrics", headers=extra)
    finally:
        await production.state.engine.dispose()
    assert response.status_code == status, response.text
    if status == 200:
        assert "guichet_http_requests_total" in response.text
    else:
        assert response.headers["content-type"] == "application/problem+json"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def access_lines() -> Iterator[list[logging.LogRecord]]:
    """What the `app.access` logger writes (it does not propagate to the root logger)."""
    logger = logging.getLogger("app.access")
    handler = _Records()
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


async def test_one_json_line_per_request(
    client: AsyncClient, headers: Any, access_lines: list[logging.LogRecord]
) -> None:
    auth = headers(ACTORS.pref13)
    response = await client.get(
        f"/api/v1/projects/{uuid.uuid4()}", headers={**auth, "X-Request-ID": "req-42.a:b"}
    )
    assert response.status_code == 404
    lines = [json.loads(r.getMessage()) for r in access_lines]
    assert len(lines) == 1
    line = lines[0]
    assert set(line) == {
        "time", "request_id", "method", "route", "status", "duration_ms", "role", "subject"
    }  # fmt: skip
    assert line["request_id"] == "req-42.a:b" == response.headers["x-request-id"]
    assert (line["method"], line["route"], line["status"]) == (
        "GET",
        "/api/v1/projects/{project_id}",
        404,
    )
    assert (line["role"], line["subject"]) == ("prefect", "prefet-13")
    assert line["duration_ms"] >= 0
    token = auth["Authorization"].removeprefix("Bearer ")
    assert token not in access_lines[0].getMessage()
    anonymous = await client.get("/healthz")
    last = json.loads(access_lines[-1].getMessage())
    assert (last["role"], last["subject"], last["route"]) == ("anonymous", None, "/healthz")
    assert last["request_id"] == anonymous.headers["x-request-id"]


@pytest.mark.parametrize(
    "sent", ["x" * 129, "a b", 'id"quoted', "ligne\\n", "é".encode(), b"\xff", ""]
)
async def test_an_unsafe_request_id_is_replaced(client: AsyncClient, sent: str | bytes) -> None:
    response = await client.get("/nowhere", headers={"X-Request-ID": sent})
    assert response.status_code == 404
    given = response.headers["x-request-id"]
    assert given != sent and len(given) == 32
    body = response.json()
    assert body["request_id"] == given  # R: the id of every problem body
    assert body["instance"] == "/nowhere"  # `instance` stays the request path


async def test_problem_bodies_carry_the_request_id(client: AsyncClient, headers: Any) -> None:
    response = await client.get(
        "/api/v1/stats/national",
        headers={**headers(ACTORS.cand_a), "X-Request-ID": "trace-1"},
    )
    assert response.status_code == 403
    assert response.headers["x-request-id"] == "trace-1"
    assert response.json()["request_id"] == "trace-1"
    assert response.json()["instance"] == "/api/v1/stats/national"
    unauthenticated = await client.get("/api/v1/stats/national")
    assert unauthenticated.json()["request_id"] == unauthenticated.headers["x-request-id"]
