"""Benchmark of the open-data export (issue 11): 100,000 grants streamed as SCDL CSV and JSON.

    .venv/bin/python bench/bench_opendata.py                     # embedded SQLite
    GUICHET_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/guichet \\
        .venv/bin/python bench/bench_opendata.py                 # PostgreSQL (a fresh DB beside it)
    .venv/bin/python bench/bench_opendata.py --grants 20000      # another size

Fills a fresh database with published grants (bulk inserts, not the API), then drives the ASGI
app directly (httpx's ASGITransport would buffer the whole body, hiding what the server holds)
and discards each chunk as it arrives. For two sizes (a tenth, then all the grants) it
measures the time of a full download and the peak of Python allocations during it
(tracemalloc, in a separate run: tracing slows the code down); flat memory means the peak does
not grow with the number of rows. Prints one JSON document; it is a measurement, not a test,
and never runs in `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import resource
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select  # noqa: E402

import app.models  # noqa: E402, F401  (every table, for the foreign keys)
from app.budgets.models import Convention, Envelope, Grant  # noqa: E402
from app.candidates.models import Candidate  # noqa: E402
from app.main import create_app  # noqa: E402
from app.opendata import publish  # noqa: E402
from app.programme.models import Programme  # noqa: E402
from app.programme.service import seed_programme  # noqa: E402
from app.projects.models import ExpenseLine, Project  # noqa: E402
from tests.support import (  # noqa: E402
    create_database,
    drop_database,
    migrate,
    siret_of,
    test_settings,
)

GRANTS = 100_000
GRANTS_PER_CANDIDATE = 100
BATCH = 5_000
DEPARTEMENTS = ("13", "75", "69", "33")
CSV_PATH = "/api/v1/open-data/subventions.csv"
JSON_PATH = "/api/v1/open-data/subventions.json"


async def fill(sessionmaker: Any, start: int, stop: int) -> None:
    """Grants start..stop-1, each with its candidate share, dossier, line, convention and
    published row."""
    now = datetime(2021, 6, 1, tzinfo=UTC)
    async with sessionmaker() as session, session.begin():
        programme_id = (await session.execute(select(Programme.id))).scalar_one()
        envelopes = {
            row.departement: row.id for row in (await session.execute(select(Envelope))).scalars()
        }
        for first in range(start, stop, BATCH):
            ids = range(first, min(first + BATCH, stop))
            candidates, projects, lines, grants, conventions = [], [], [], [], []
            for i in ids:
                dep = DEPARTEMENTS[i % len(DEPARTEMENTS)]
                candidate_no = i // GRANTS_PER_CANDIDATE
                candidate_id = uuid.UUID(int=candidate_no + 1)
                if i % GRANTS_PER_CANDIDATE == 0:
                    siren = f"2{candidate_no:08d}"
                    candidates.append(
                        {"id": candidate_id, "siret": siret_of(siren), "siren": siren,
                         "name": f"Commune n° {candidate_no}", "kind": "commune",
                         "departement": dep, "population": 1_000 + candidate_no,
                         "verification": "verified", "created_by": "bench", "version": 1,
                         "created_at": now, "updated_at": now}
                    )  # fmt: skip
                project_id = uuid.UUID(int=(1 << 64) + i)  # fixed ids: the same bytes each run
                projects.append(
                    {"id": project_id, "candidate_id": candidate_id,
                     "programme_id": programme_id, "departement": dep, "strand": "3c",
                     "title": f"Projet numérique n° {i}, « démarches en ligne »",
                     "description": "Banc d'essai.", "team": [], "agents_impacted": 5,
                     "users_impacted": 500, "open_source": False, "requested_cents": 1_000_000,
                     "total_cost_cents": 2_000_000, "status": "under_convention",
                     "submitted_at": now, "created_by": "bench", "version": 1,
                     "created_at": now, "updated_at": now}
                )  # fmt: skip
                lines.append(
                    {"id": uuid.UUID(int=(2 << 64) + i), "project_id": project_id, "position": 0,
                     "category": "development", "label": "Développement",
                     "amount_cents": 2_000_000}
                )  # fmt: skip
                grants.append(
                    {"id": uuid.UUID(int=(3 << 64) + i), "project_id": project_id,
                     "envelope_id": envelopes[dep], "amount_cents": 1_000_000 + i,
                     "paid_cents": 0, "advance_paid_cents": 0, "released_cents": 0,
                     "status": "active", "reference": f"Comité {i}", "committed_at": now,
                     "updated_at": now, "eligible_cost_cents": 2_000_000,
                     "aid_rate_bps": 8_000, "advance_cap_bps": 3_000,
                     "pre_final_payment_cap_bps": 8_000, "programme_version": 1}
                )  # fmt: skip
                day = date(2021, 6, 1) + timedelta(days=i % 300)
                conventions.append(
                    {"id": uuid.UUID(int=(4 << 64) + i), "project_id": project_id,
                     "reference": f"CONV-{i}",
                     "kind": "crte", "signed_on": day, "created_by": "bench", "created_at": now,
                     "schedule": [
                         {"label": "Avance", "kind": "advance", "due_on": day.isoformat(),
                          "amount_cents": 300_000},
                         {"label": "Solde", "kind": "balance",
                          "due_on": (day + timedelta(days=365)).isoformat(),
                          "amount_cents": 700_000 + i},
                     ]}
                )  # fmt: skip
            for table, rows in (
                (Candidate, candidates),
                (Project, projects),
                (ExpenseLine, lines),
                (Grant, grants),
                (Convention, conventions),
            ):
                if rows:
                    await session.execute(insert(table), rows)
        # Issue 28: the export reads the published rows, which the API writes with each change;
        # bulk inserts bypass it, so they are written here from what was inserted.
        await session.run_sync(publish.refresh, None)


def _reset_peak_rss() -> bool:
    """Linux: reset the process's VmHWM (peak RSS) to its current RSS; False elsewhere."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _rss_mib(field: str) -> float | None:
    """VmRSS or VmHWM of this process, in MiB (Linux)."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    kib = next((int(line.split()[1]) for line in lines if line.startswith(field + ":")), None)
    return None if kib is None else round(kib / 1024, 1)


async def download(app: Any, path: str) -> tuple[int, int, float, float, str]:
    """GET `path` straight through the ASGI app; chunks are hashed, counted and dropped."""
    received = {"bytes": 0, "chunks": 0, "status": 0}
    digest = hashlib.sha256()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": [(b"host", b"bench")], "client": ("127.0.0.1", 1),
        "server": ("bench", 80), "state": {},
    }  # fmt: skip
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            received["status"] = message["status"]
        elif message["type"] == "http.response.body":
            received["bytes"] += len(message.get("body", b""))
            digest.update(message.get("body", b""))
            received["chunks"] += 1

    start, cpu = time.perf_counter(), time.process_time()
    await app(scope, receive, send)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert received["status"] == 200, received
    return received["bytes"], received["chunks"], elapsed, cpu, digest.hexdigest()


async def measure(app: Any, path: str) -> dict[str, Any]:
    rss_before = _rss_mib("VmRSS") if _reset_peak_rss() else None
    size, chunks, seconds, cpu, sha256 = await download(app, path)
    rss_peak = _rss_mib("VmHWM") if rss_before is not None else None
    tracemalloc.start()
    tracemalloc.reset_peak()
    await download(app, path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "bytes": size,
        "chunks": chunks,
        "seconds": round(seconds, 2),
        "rows_per_second": None,
        # The process's CPU time (SQLite's work included, not PostgreSQL's server): steadier
        # than the wall clock on a shared machine.
        "cpu_seconds": round(cpu, 2),
        "rows_per_cpu_second": None,
        "peak_traced_mib": round(peak / 2**20, 2),
        "rss_before_mib": rss_before,  # the process's RSS as the download starts
        "rss_peak_mib": rss_peak,  # its peak during the (untraced) download
        "sha256": sha256,  # fixed ids: equal from run to run, and before/after a change
    }


async def main(grants: int) -> dict[str, Any]:
    url = await create_database(Path(tempfile.mkdtemp()), "bench_opendata")
    await migrate(url)
    settings = test_settings(url, access_log=False)
    app = create_app(settings)
    results: dict[str, Any] = {"backend": url.split(":")[0], "grants": grants, "runs": []}
    try:
        sessionmaker = app.state.sessionmaker
        async with sessionmaker() as session, session.begin():
            await seed_programme(session)
            programme_id = (await session.execute(select(Programme.id))).scalar_one()
            for dep in DEPARTEMENTS:
                session.add(
                    Envelope(
                        programme_id=programme_id, departement=dep,
                        prefecture_name=f"Préfecture {dep}",
                        prefecture_siret=siret_of("130025265", f"00{dep}"),
                        allocated_cents=10**13, committed_cents=0,
                    )
                )  # fmt: skip
        done = 0
        for size in (grants // 10, grants):
            start = time.perf_counter()
            await fill(sessionmaker, done, size)
            done = size
            filled = round(time.perf_counter() - start, 1)
            for path in (CSV_PATH, JSON_PATH):
                run = await measure(app, path)
                run.update(path=path, grants=size, fill_seconds=filled)
                run["rows_per_second"] = round(size / run["seconds"]) if run["seconds"] else None
                cpu = run["cpu_seconds"]
                run["rows_per_cpu_second"] = round(size / cpu) if cpu else None
                results["runs"].append(run)
    finally:
        await app.state.engine.dispose()
        await drop_database(url)
    results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grants", type=int, default=GRANTS)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.grants)), indent=2, ensure_ascii=False))  # noqa: T201
