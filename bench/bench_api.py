"""Benchmark of the guichet's hot paths, in process (httpx ASGITransport), on a fresh database.

    .venv/bin/python bench/bench_api.py                      # embedded SQLite
    GUICHET_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/guichet \\
        .venv/bin/python bench/bench_api.py                  # PostgreSQL (a fresh DB beside it)

Prints one JSON document: latency percentiles per operation, commitments per second under
concurrency, and the peak resident memory of the process. Nothing here is a pass/fail test.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from httpx import ASGITransport, AsyncClient  # noqa: E402

from app.auth.principal import Principal, Role  # noqa: E402
from app.budgets import grants as grants_service  # noqa: E402
from app.budgets.errors import EnvelopeExhausted  # noqa: E402
from app.main import create_app  # noqa: E402
from app.programme.service import seed_programme  # noqa: E402
from tests.factories import make_candidate, make_project  # noqa: E402
from tests.support import (  # noqa: E402
    auth_headers,
    create_database,
    drop_database,
    migrate,
    siret_of,
    test_settings,
)

PROJECTS = 2_000
LINES_PER_PROJECT = 8
ROUNDS = 200
COMMITMENTS = 200


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


async def timed(call: Callable[[], Awaitable[Any]], rounds: int) -> dict[str, float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


async def main() -> dict[str, Any]:
    url = await create_database(Path(tempfile.mkdtemp()), "bench")
    await migrate(url)
    settings = test_settings(url, database_pool_size=20)
    app = create_app(settings)
    pref = Principal("bench-prefet", Role.PREFECT, departement="13")
    dinum = Principal("bench-dinum", Role.DINUM)
    results: dict[str, Any] = {"backend": url.split(":")[0], "projects": PROJECTS}
    try:
        sessionmaker = app.state.sessionmaker
        async with sessionmaker() as session, session.begin():
            await seed_programme(session)
            candidate = await make_candidate(session, siren="211300553")
            lines = [("development", 100_000)] * LINES_PER_PROJECT
            for i in range(PROJECTS):
                await make_project(
                    session, candidate=candidate, lines=lines, title=f"P{i}", status="in_review"
                )
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://bench") as http:
            h = auth_headers(settings, pref)
            first = (await http.get("/api/v1/projects", params={"limit": 1}, headers=h)).json()
            project_id = first["items"][0]["id"]
            results["GET /projects (page of 50)"] = await timed(
                lambda: http.get("/api/v1/projects", headers=h), ROUNDS
            )
            results["GET /projects (page of 200)"] = await timed(
                lambda: http.get("/api/v1/projects", params={"limit": 200}, headers=h), ROUNDS
            )
            results["GET /projects/{id}"] = await timed(
                lambda: http.get(f"/api/v1/projects/{project_id}", headers=h), ROUNDS
            )
            results["GET /projects/{id}/eligibility"] = await timed(
                lambda: http.get(f"/api/v1/projects/{project_id}/eligibility", headers=h), ROUNDS
            )
            allocation = {
                "kind": "allocation",
                "amount_cents": 70_000 * (COMMITMENTS // 2),
                "reference": "bench",
                "prefecture_name": "Préfecture des Bouches-du-Rhône",
                "prefecture_siret": siret_of("130025265"),
            }
            await http.post(
                "/api/v1/envelopes/13/allocations",
                json=allocation,
                headers=auth_headers(settings, dinum),
            )
            ids = [
                p["id"]
                for p in (
                    await http.get("/api/v1/projects", params={"limit": 200}, headers=h)
                ).json()["items"]
            ]

        async def commit(project_id: str) -> bool:
            async with sessionmaker() as session, session.begin():
                try:
                    await grants_service.commit_grant(
                        session, pref, project_id=project_id, amount_cents=70_000
                    )
                    return True
                except EnvelopeExhausted:
                    return False

        start = time.perf_counter()
        outcomes = await asyncio.gather(*(commit(uuid.UUID(i)) for i in ids[:COMMITMENTS]))
        elapsed = time.perf_counter() - start
        results["concurrent commitments"] = {
            "calls": len(outcomes),
            "accepted": sum(outcomes),
            "refused": len(outcomes) - sum(outcomes),
            "seconds": round(elapsed, 3),
            "per_second": round(len(outcomes) / elapsed, 1),
        }
    finally:
        await app.state.engine.dispose()
        await drop_database(url)
    results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return results


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main()), indent=2, ensure_ascii=False))  # noqa: T201
