"""R-ELIG-8: the README's walk-through ("A first call") runs where `make run` leaves the clock.

The shell block of that README section is run as written (bash, curl, the app's token command)
against a real server started the way `make run` starts it: a fresh database, migrated and
seeded at the Makefile's CLOCK_START, loaded with the demo story (issues 12 and 27 §1), which
moves the clock on to its end (DEMO_END). The dossier it files, on the call open then, must be
submitted, on that day.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from app.core.clock import PARIS
from app.demo import DEMO_END
from app.programme.seed_nt2026 import NT2026_CODE
from tests.support import create_database, drop_database

ROOT = Path(__file__).resolve().parents[2]
README_URL = "http://127.0.0.1:8000"


def walkthrough(section_title: str = "A first call", block: int = 0) -> str:
    """The `block`-th ```sh block of a README section ("A first call" by default)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"## {section_title}", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) > block, f"no shell block {block} in the README's '{section_title}'"
    return str(blocks[block])


def makefile_clock_start() -> str:
    match = re.search(r"^CLOCK_START \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert match, "the Makefile's run target sets no CLOCK_START"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def json_documents(text: str) -> list[Any]:
    """Every JSON document curl printed, one after the other (curl -s adds no newline)."""
    decoder, documents, index = json.JSONDecoder(), [], 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        document, index = decoder.raw_decode(text, index)
        documents.append(document)
    return documents


def run_walkthrough(
    database_url: str, clock_start: str, script: str | None = None, *, demo: bool = True
) -> subprocess.CompletedProcess[str]:
    """`script` (the first walk-through by default) against a server started as `make run`
    starts it, with the demo data unless `demo` is False (GUICHET_DEMO_DATA=false)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    env |= {"GUICHET_DATABASE_URL": database_url, "GUICHET_CLOCK_START": clock_start}
    if not demo:
        env["GUICHET_DEMO_DATA"] = "false"
    python = sys.executable
    # what `make run` does before serving: migrate, seed, and the demo data (issue 12)
    for command in (["migrate"], ["seed"], ["demo", "--if-empty"]):
        subprocess.run([python, "-m", "app", *command], cwd=ROOT, env=env, check=True)
    port = free_port()
    server = subprocess.Popen(
        [python, "-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        script = (script or walkthrough()).replace(README_URL, base)
        script = script.replace(".venv/bin/python", python)
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


async def test_r_elig_8_the_readme_walkthrough_submits_a_dossier_at_make_runs_clock(
    tmp_path: Path,
) -> None:
    clock_start = makefile_clock_start()
    url = await create_database(tmp_path, "readme")
    try:
        done = await asyncio.to_thread(run_walkthrough, url, clock_start)
    finally:
        await drop_database(url)
    assert done.returncode == 0, done.stderr
    documents = json_documents(done.stdout)
    candidate = next(d for d in documents if "siret" in d)
    assert candidate["name"] == "Marseille"
    report = next(d for d in documents if "eligible" in d)
    assert report["eligible"] is True, report["failures"]
    submitted = documents[-1]
    assert submitted["status"] == "submitted", submitted
    assert submitted["programme"] == NT2026_CODE
    # Submitted on the story's last day in Paris, minutes after the demo left the clock there
    # (the offset was fixed by `seed` at CLOCK_START, then moved on by the demo).
    at = datetime.fromisoformat(submitted["submitted_at"])
    assert datetime.fromisoformat(clock_start) < DEMO_END <= at < DEMO_END + timedelta(minutes=5)
    assert at.astimezone(PARIS).date() == DEMO_END.date()
    assert submitted["start_on"] >= at.astimezone(PARIS).date().isoformat()
