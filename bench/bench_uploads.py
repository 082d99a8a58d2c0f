"""Benchmark of document uploads (issue 24): 20 concurrent uploads of 10 MB, then of 1 MB.

    .venv/bin/python bench/bench_uploads.py                      # embedded SQLite
    GUICHET_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/guichet \\
        .venv/bin/python bench/bench_uploads.py                  # PostgreSQL (a fresh DB beside it)
    .venv/bin/python bench/bench_uploads.py --count 20 --sizes-mb 10,1
    .venv/bin/python bench/bench_uploads.py --sizes-mb 10 --client-mb-per-s 1   # slow clients

A fresh empty database (migrated, programme seeded with `python -m app seed`), documents on the
filesystem in a temporary directory, no malware scanner (documents `unscanned`). For each size,
a fresh server (`python -m app serve`, one worker pinned to core 0, through bench/run.py's
Server) gets one warm-up upload, then `--count` concurrent uploads of distinct PDFs (a valid
PDF head, then padding: libmagic types them `application/pdf`) on one draft dossier. The client
(pinned to core 1) streams each multipart body from one 64 KiB buffer, so it never holds the
files. The server's VmRSS is sampled every 20 ms from /proc during the uploads; VmHWM is read
before and after. A flat server means the peak grows by a few MiB, not by count x size.
Prints one JSON document; a measurement, not a test, never run by `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.run import PY, Server  # noqa: E402
from tests.support import create_database, drop_database, migrate, siret_of  # noqa: E402

MARSEILLE_SIREN = "211300553"  # a commune of the reference data (tests/conftest.py)
CLOCK_START = "2021-02-26T10:00:00+01:00"  # within the programme's window, like bench/run.py
PDF_HEAD = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
CHUNK = 64 * 1024
BOUNDARY = "guichetbenchboundary"
DRAFT: dict[str, Any] = {
    "strand": "3c",
    "title": "Prise de rendez-vous en ligne",
    "description": "Un service de prise de rendez-vous en ligne et par téléphone.",
    "nature": "modernisation",
    "start_on": "2021-03-01",
    "end_on": "2022-06-30",
    "sponsor": {"name": "Mme la Maire", "role": "Maire"},
    "team": [{"name": "A. Martin", "role": "Cheffe de projet", "availability_pct": 50}],
    "agents_impacted": 40,
    "users_impacted": 20_000,
    "expense_lines": [
        {"category": "development", "label": "Développement", "amount_cents": 4_000_000},
    ],
    "requested_cents": 2_000_000,
}


def app_command(env: dict[str, str], *args: str) -> str:
    """`python -m app <args>` under the bench's environment; its standard output."""
    out = subprocess.run(
        [PY, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def multipart(index: int, size: int, rate: float | None = None) -> tuple[int, AsyncIterator[bytes]]:
    """A `kind=deliberation` form with a `size`-byte PDF (distinct per `index`): its length and
    an iterator over its bytes, built from one padding chunk, sent at `rate` bytes/s at most
    (a slow client's link) when given."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="kind"\r\n\r\n'
        f"deliberation\r\n--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="deliberation-{index}.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    first = PDF_HEAD + f"% bench upload {index}\n".encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    padding = b"\x00" * CHUNK

    async def body() -> AsyncIterator[bytes]:
        yield head + first
        left = size - len(first)
        while left > 0:
            piece = min(left, CHUNK)
            yield padding[:piece]
            left -= piece
            if rate:
                await asyncio.sleep(piece / rate)
        yield tail

    return len(head) + size + len(tail), body()


async def upload_round(
    server: Server,
    path: str,
    headers: dict[str, str],
    count: int,
    size: int,
    rate: float | None = None,
) -> dict[str, Any]:
    samples: list[float] = []
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            samples.append(server.peak_rss_mib("VmRSS"))
            await asyncio.sleep(0.02)

    limits = httpx.Limits(max_connections=count + 1)
    async with httpx.AsyncClient(base_url=server.base, timeout=300, limits=limits) as client:

        async def one(index: int, rate: float | None = None) -> tuple[int, float, str]:
            length, body = multipart(index, size, rate)
            h = {
                **headers,
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                "Content-Length": str(length),
            }
            start = time.perf_counter()
            answer = await client.post(path, content=body, headers=h)
            code = answer.json().get("code", "") if answer.status_code >= 400 else ""
            return answer.status_code, time.perf_counter() - start, code

        warm = await one(0)  # imports, libmagic, the pool's first connection
        before = {f: server.peak_rss_mib(f) for f in ("VmRSS", "VmHWM")}
        cpu_before = server.cpu_seconds()
        sampler = asyncio.create_task(sample())
        start = time.perf_counter()
        results = await asyncio.gather(*(one(i, rate) for i in range(1, count + 1)))
        wall = time.perf_counter() - start
        done.set()
        await sampler
        cpu = server.cpu_seconds() - cpu_before
        await asyncio.sleep(1.0)
        after = {f: server.peak_rss_mib(f) for f in ("VmRSS", "VmHWM")}
    statuses: dict[str, int] = {}
    for status, _, code in results:
        key = f"{status} {code}".strip()
        statuses[key] = statuses.get(key, 0) + 1
    times = sorted(t for _, t, _ in results)
    total_mb = count * size / 1e6
    return {
        "uploads": count,
        "size_mb": size / 1e6,
        "client_mb_per_s_each": rate / 1e6 if rate else None,
        "warm_up_status": warm[0],
        "statuses": statuses,
        "wall_seconds": round(wall, 2),
        "throughput_mb_per_s": round(total_mb / wall, 1),
        "upload_seconds_min_median_max": [
            round(times[0], 2),
            round(times[len(times) // 2], 2),
            round(times[-1], 2),
        ],
        "server_cpu_seconds": round(cpu, 2),
        "rss_before_mib": before["VmRSS"],
        "hwm_before_mib": before["VmHWM"],
        "rss_peak_sampled_mib": max(samples, default=0.0),
        "hwm_after_mib": after["VmHWM"],
        "rss_after_mib": after["VmRSS"],
        "hwm_growth_mib": round(after["VmHWM"] - before["VmHWM"], 1),
        "rss_samples": len(samples),
    }


async def main(count: int, sizes_mb: list[float], rate_mb: float | None) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="guichet-upbench-"))
    url = await create_database(tmp, "bench_uploads")
    await migrate(url)
    env = {
        **os.environ,
        "GUICHET_DATABASE_URL": url,
        "GUICHET_CLOCK_START": CLOCK_START,
        "GUICHET_DOCUMENTS_DIR": str(tmp / "documents"),
        "GUICHET_NOTIFICATION_MAIL_DIR": str(tmp / "mail"),
    }
    extra = {k: env[k] for k in ("GUICHET_DOCUMENTS_DIR", "GUICHET_NOTIFICATION_MAIL_DIR")}
    results: dict[str, Any] = {
        "backend": url.split(":")[0],
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "runs": [],
    }
    try:
        app_command(env, "seed")
        dinum = {"Authorization": "Bearer " + app_command(env, "token", "--role", "dinum")}
        candidate = {
            "Authorization": "Bearer "
            + app_command(env, "token", "--role", "candidate", "--siren", MARSEILLE_SIREN)
        }
        os.sched_setaffinity(0, {1})  # the client on core 1, the server on core 0
        path = ""
        for size_mb in sizes_mb:
            server = Server("", url, "0", extra_env=extra, serve=True)
            try:
                if not path:
                    async with httpx.AsyncClient(base_url=server.base, timeout=60) as client:
                        made = await client.post(
                            "/api/v1/candidates",
                            json={"siret": siret_of(MARSEILLE_SIREN), "kind": "commune"},
                            headers=dinum,
                        )
                        assert made.status_code == 201, made.text
                        draft = await client.post("/api/v1/projects", json=DRAFT, headers=candidate)
                        assert draft.status_code == 201, draft.text
                        path = f"/api/v1/projects/{draft.json()['id']}/documents"
                rate = rate_mb * 1e6 if rate_mb else None
                run = await upload_round(server, path, candidate, count, int(size_mb * 1e6), rate)
            finally:
                server.stop()
            results["runs"].append(run)
            print(json.dumps(run), file=sys.stderr)  # noqa: T201
    finally:
        await drop_database(url)
        shutil.rmtree(tmp, ignore_errors=True)
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--sizes-mb", default="10,1", help="comma-separated, in MB (10^6 bytes)")
    parser.add_argument(
        "--client-mb-per-s",
        type=float,
        default=None,
        help="each upload sent at most this fast (slow links); default: as fast as possible",
    )
    args = parser.parse_args()
    sizes = [float(x) for x in args.sizes_mb.split(",")]
    print(json.dumps(asyncio.run(main(args.count, sizes, args.client_mb_per_s)), indent=2))  # noqa: T201
