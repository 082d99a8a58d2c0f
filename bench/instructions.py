"""The instructions one read, or one submission, costs in-process, counted by callgrind: a
before/after that the machine's speed does not move (issue 28).

`make bench` measures CPU time, and on the sessions' machines the same code's CPU per request
moved by 1.5 to 2 times between runs an hour apart (BENCHMARKS.md, thirteenth and fourteenth
rounds): a change worth a few percent cannot show there. Callgrind counts the instructions
the process executes, whatever else the machine does. This script runs the app in its own
process under `valgrind --tool=callgrind` with the counting off, warms it up on one bench
row's requests (through httpx's ASGI transport: no server, no wrk, no load generator), turns
the counting on (`callgrind_control -i on`) for `--requests` of them, off again, and prints the
instructions per request. Run it on two checkouts (each with its own `.venv`, or a link to
one) and compare, the two side by side with nothing else running: two runs of the same code
differed by 0.3 % so (the run's RSA key, the rate limiter's batching, the garbage collector's
turns), and by 4.6 % when a profiler shared the machine (the rate limiter's batches and the
event loop's turns follow the timing).

What it counts: the app's own path (middlewares, routing, the token, the rate limiter's
client, the statement, the JSON) and httpx's ASGI transport (not its client), the same on both
sides. Not counted:
uvicorn's HTTP parsing, the database's and Redis' own work. The settings are the bench's
(`production_env`: rate limiting on Redis, the access log on, written to /dev/null here).

A submission (`--row 'POST /projects/{id}/submit'`, the burst's request) moves its draft for
good: the child takes the drafts of the burst's query (`bench.run.submissions`), submits the
first `--warm-up`, then counts the next `--requests`. The answers' statuses are printed beside
the count (some are refused by their rules, as in the burst: the same ones on both checkouts,
on their copies of one database).

Usage: .venv/bin/python bench/instructions.py [--row 'GET /envelopes/{dep}'] [--requests 200]
Needs valgrind (Debian: apt-get install valgrind), the bench's database (`make bench` loads
it) and Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import (  # noqa: E402
    bench_database,
    build_cases,
    production_env,
    signing_env,
    submissions,
)

READS = (
    "GET /projects/{id}",
    "GET /projects/{id}/eligibility",
    "GET /envelopes/{dep}",
    "GET /envelopes/{dep}/ledger",
    "list, prefect, status filter, keyset pages",
    "list, DINUM, département + status",
    "list, DINUM, status only",
)
# The burst's request (`bench.run.burst`): a candidate submits its draft, If-Match read before.
# Each submission moves a draft for good: the warm-up and the counted ones are different
# candidates' drafts, the same ones on every run (the run's copy of the bench database).
SUBMIT = "POST /projects/{id}/submit"


async def child(args: argparse.Namespace) -> None:
    """Under callgrind: the app, warmed up; counted from "go" on stdin to "done" on stdout."""
    import httpx

    env = {**production_env(args), **signing_env(), "GUICHET_DATABASE_URL": args.url}
    env["GUICHET_CLOCK_START"] = "2021-02-26T10:00:00+01:00"  # the bench's deadline day
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    # The protocol on the standard output's descriptor, the access log (written to sys.stdout)
    # to /dev/null.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)

    # httpx's transport imports sniffio on every request (`is_running_trio`); where it is
    # not installed, each failed import searched sys.path again (seven stat calls a request).
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

    from app.core.config import Settings
    from app.main import create_app

    settings = Settings()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            if args.row == SUBMIT:
                drafts = await submissions(client, args.url, settings, args.warm_up + args.requests)
                if len(drafts) < args.warm_up + args.requests:
                    sys.exit(f"{len(drafts)} drafts to submit, not {args.warm_up + args.requests}")
                requests = [
                    ("POST", f"/api/v1/projects/{pid}/submit", headers) for pid, headers in drafts
                ]
            else:
                requests = [
                    ("GET", path, {"Authorization": auth})
                    for path, auth in (await build_cases(client, args.url, settings))[args.row]
                ]
            statuses: dict[int, int] = {}

            async def one(i: int) -> None:
                # The transport alone: the client would add its cookie jar's work on every
                # response (an email.message of the headers), counted as the app's.
                method, path, headers = requests[i % len(requests)]
                request = httpx.Request(method, "http://bench" + path, headers=headers)
                response = await transport.handle_async_request(request)
                body = await response.aread()
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                # A submission may be refused by its rules (422, as in the burst): not a read.
                if response.status_code != 200 and (method == "GET" or response.status_code > 422):
                    sys.exit(f"{path}: {response.status_code} {body[:200]!r}")

            for i in range(args.warm_up):
                await one(i)
            statuses.clear()
            protocol.write("ready\n")
            sys.stdin.readline()  # counting on
            first = args.warm_up if args.row == SUBMIT else 0  # drafts not yet submitted
            for i in range(first, first + args.requests):
                await one(i)
            protocol.write("done\n")
            sys.stdin.readline()  # counting off
            protocol.write(" ".join(f"{k}: {v}" for k, v in sorted(statuses.items())) + "\n")


async def parent(args: argparse.Namespace) -> int:
    """The app under callgrind on a copy of the bench's database (`bench_database`, as
    `make bench`: loaded first if need be); its instructions from "ready" to "done", per
    request."""
    async with bench_database(args, {}) as url:
        with tempfile.TemporaryDirectory() as tmp:
            out, log = Path(tmp) / "callgrind.out", Path(tmp) / "valgrind.log"
            cmd = [
                "valgrind", "--tool=callgrind", "--instr-atstart=no",
                f"--callgrind-out-file={out}", f"--log-file={log}",
                sys.executable, __file__, "--child", "--row", args.row, "--url", url,
                "--requests", str(args.requests), "--warm-up", str(args.warm_up),
                "--redis-url", args.redis_url,
            ]  # fmt: skip
            env = {**os.environ, "PYTHONHASHSEED": "0"}
            with subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT
            ) as proc:
                assert proc.stdin is not None and proc.stdout is not None
                for expected, switch in (("ready", "on"), ("done", "off")):
                    line = proc.stdout.readline().strip()
                    if line != expected:
                        proc.kill()
                        sys.exit(f"the app under callgrind said {line!r}, not {expected!r}")
                    subprocess.run(
                        ["callgrind_control", "-i", switch, str(proc.pid)],
                        check=True,
                        capture_output=True,
                    )
                    proc.stdin.write("\n")
                    proc.stdin.flush()
                answered = proc.stdout.readline().strip()  # the counted answers' statuses
            if proc.returncode:
                print(log.read_text()[-2000:], file=sys.stderr)  # noqa: T201
                return proc.returncode
            totals = re.search(r"^totals: (\d+)", out.read_text(), re.MULTILINE)
    if totals is None:
        sys.exit("callgrind wrote no totals")
    per_request = int(totals.group(1)) / args.requests
    print(  # noqa: T201
        f"{args.row}: {per_request:,.0f} instructions a request ({args.requests}; {answered})"
    )
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--row", default="GET /envelopes/{dep}", choices=(*READS, SUBMIT))
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--warm-up", type=int, default=150)
    p.add_argument("--url", default=None, help="the bench's database (default: make bench's)")
    p.add_argument("--dossiers", type=int, default=200_000)
    p.add_argument("--movements", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--regenerate", action="store_true")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="rate limits' store")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        asyncio.run(child(a))
    else:
        sys.exit(asyncio.run(parent(a)))
