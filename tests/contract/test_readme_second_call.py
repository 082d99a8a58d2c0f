"""Issue 26 (R-PROG-1, R-PROG-2): the README's "A second call" runs as written. DINUM's
inconsistent document is refused with every problem listed, the consistent one is drafted,
previewed and published through the API of a running service; a commune files and submits a
dossier on it; its committee commits the grant from that programme's envelope; the open data
lists the grant under the programme's own `dispositifAide`. The server starts as `make run`
starts it, on a fresh database without demo data, its clock at the section's CLOCK_START."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from tests.contract.test_readme_walkthrough import (
    ROOT,
    json_documents,
    run_walkthrough,
    walkthrough,
)
from tests.support import create_database, drop_database

SECTION = "A second call: DINUM opens a programme through the API"
DOCUMENT = json.loads((ROOT / "examples/programmes/numerique-territoires-2026.json").read_text())


def section_clock_start() -> str:
    match = re.search(r"CLOCK_START=(\S+)", walkthrough(SECTION, 0))
    assert match, "the section's first block starts no clock"
    return match.group(1)


async def test_r_prog_1_the_readme_second_call_runs_from_draft_to_open_data(
    tmp_path: Path,
) -> None:
    url = await create_database(tmp_path, "readme_second")
    try:
        done = await asyncio.to_thread(
            run_walkthrough, url, section_clock_start(), walkthrough(SECTION, 1), demo=False
        )
    finally:
        await drop_database(url)
    assert done.returncode == 0, done.stderr
    documents = json_documents(done.stdout)
    refused = documents[0]
    assert (refused["status"], refused["code"]) == (422, "R-PROG-1"), refused
    assert {e["code"] for e in refused["errors"]} >= {"R-EXCL-2", "R-DOC-1", "R-CAP-3"}
    draft, preview, published = documents[1:4]
    assert (draft["code"], draft["status"]) == (DOCUMENT["code"], "draft"), draft
    assert (preview["funding_cap_rate_bps"], preview["eligible"]) == (7000, True), preview
    assert published["status"] == "published", published
    submitted = next(d for d in documents if d.get("status") == "submitted")
    assert submitted["programme"] == DOCUMENT["code"]
    envelope = next(d for d in documents if "committed_cents" in d)
    assert (envelope["programme"], envelope["committed_cents"]) == (DOCUMENT["code"], 2_000_000)
    rows = documents[-1]
    assert [(r["montant"], r["dispositifAide"]) for r in rows] == [
        (20_000.0, DOCUMENT["dispositif_aide"])
    ], rows
