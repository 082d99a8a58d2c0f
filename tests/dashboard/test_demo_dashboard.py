"""Issue 27 §1: on the demo story, the dashboard page draws real curves — the monthly chart has a
point for each month of FITN7's 2021–2022, not one dot. The server is the one `make run` starts
(migrate, seed at the Makefile's clock, the demo story at a small scale, serve); the screenshot
is kept in tests/dashboard/artifacts/demo-national-desktop.png."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ACTORS
from tests.contract.test_readme_walkthrough import makefile_clock_start
from tests.dashboard.conftest import (
    ARTIFACTS,
    ROOT,
    Network,
    Server,
    _free_port,
    _in_thread,
    screenshot,
)
from tests.support import TEST_AUDIT_KEY, TEST_SECRET, create_database, drop_database, test_settings


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`python -m app serve` over a database holding a small demo story."""
    tmp = tmp_path_factory.mktemp("demo_dashboard")
    url = _in_thread(create_database(tmp, "demo_dashboard"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")},
        "GUICHET_ENVIRONMENT": "test",
        "GUICHET_DATABASE_URL": url,
        "GUICHET_JWT_SECRET": TEST_SECRET,
        "GUICHET_AUDIT_KEYS": json.dumps({"test": TEST_AUDIT_KEY}),
        "GUICHET_CLOCK_START": makefile_clock_start(),
        "GUICHET_WEBHOOK_WORKER_ENABLED": "false",
    }
    try:
        for command in (["migrate"], ["seed"], ["demo", "--scale", "0.3"]):
            subprocess.run(  # noqa: S603 - fixed argv, the project's own interpreter
                [sys.executable, "-m", "app", *command], cwd=ROOT, env=env, check=True
            )
        port = _free_port()
        log = (tmp / "server.log").open("wb")
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, (tmp / "server.log").read_text()
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
            yield Server(base, test_settings(url))
        finally:
            process.terminate()
            process.wait(timeout=10)
            log.close()
    finally:
        _in_thread(drop_database(url))


def _chart_months(page: Any) -> list[str]:
    """The months the monthly chart's axis spans (one graduation per month)."""
    return [
        str(node.get_attribute("data-month"))
        for node in page.query_selector_all("#mois svg .axe-x text.graduation")
        if node.get_attribute("data-month")
    ]


def test_the_national_dashboard_draws_the_demo_months(
    open_page: Any, server: Server, network: Network
) -> None:
    national = server.get("/api/v1/stats/national", ACTORS.dinum, group_by="month")
    months = [m["month"] for m in national["series"] if m["commitments"]]
    assert len([m for m in months if m.startswith("2021")]) >= 6, months
    assert len([m for m in months if m.startswith("2022")]) >= 6, months
    page = open_page(ACTORS.dinum)
    points = page.query_selector_all("#mois svg circle.point-engage")
    assert len(points) >= 18  # a point per month from the first to the last
    heights = {p.get_attribute("cy") for p in points}
    assert len(heights) >= 6  # a curve, not a flat line nor one dot
    labels = page.query_selector_all("#mois svg .axe-x text.graduation")
    assert 4 <= len(labels) <= 12  # readable: a month in a few labelled, none overlapping
    spanned = {m[:4] for m in months}
    assert {"2021", "2022"} <= spanned
    screenshot(page, "demo-national-desktop")
    ARTIFACTS.mkdir(exist_ok=True)
    page.query_selector("#mois").screenshot(path=str(ARTIFACTS / "demo-national-months.png"))
    assert network.refused == []
    assert network.errors == []


def test_a_prefects_dashboard_on_the_demo_story(
    open_page: Any, server: Server, network: Network
) -> None:
    """The prefect of the 13 sees its département's figures over the story's months, its
    région's map with its own tile coloured."""
    page = open_page(ACTORS.pref13)
    assert page.inner_text("h1") == "Tableau de bord — Département 13 (Bouches-du-Rhône)"
    colored = page.query_selector_all("#carte li[data-rate-bps]")
    assert [t.get_attribute("data-departement") for t in colored] == ["13"]
    points = page.query_selector_all("#mois svg circle.point-engage")
    assert len({p.get_attribute("cy") for p in points}) >= 3  # its own curve
    screenshot(page, "demo-prefet-13-desktop")
    assert network.refused == []
    assert network.errors == []


def test_a_candidate_is_refused_on_the_demo_story(browser: Any, server: Server) -> None:
    """A signed-in candidate is told the dashboards are the State's agents' (no stats route
    is open to it), not asked to sign in."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    try:
        page = context.new_page()
        page.goto(f"{server.base}/tableau-de-bord/")
        page.fill("#jeton", server.token(ACTORS.cand_a))
        page.click("#jeton-form button[type=submit]")
        page.wait_for_selector("#message .fr-alert--warning")
        assert "réservés aux agents de l'État" in page.inner_text("#message")
        assert page.is_hidden("#tableau")
        screenshot(page, "demo-candidat-refus")
    finally:
        context.close()
