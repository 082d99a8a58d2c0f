"""/tableau-de-bord/ in Debian's chromium (issue 16): the page shows what the public API
answers, for DINUM (national) and for the prefect of the 13 (its département only), a map
tile for every département with an envelope, a period filter that changes the figures,
screenshots at desktop and mobile widths, and no serious or critical axe-core violation.
Only 127.0.0.1 is reachable: a request to any other host is aborted and fails the test."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from app.dashboard.router import render
from tests.conftest import ACTORS
from tests.dashboard.conftest import Network, Server, run_axe, screenshot

PAGE = "/tableau-de-bord/"
MONEY = ("allocated_cents", "committed_cents", "paid_cents", "available_cents")


def waiting(figures: dict[str, Any]) -> int:
    return sum(
        s["projects"]
        for s in figures["projects_by_status"]
        if s["status"] in ("submitted", "in_review")
    )


def boxes(page: Any) -> dict[str, tuple[int, str]]:
    """Each data box: its raw value and the text shown."""
    result = {}
    for item in page.query_selector_all("#chiffres li"):
        value = item.query_selector(".chiffre__valeur")
        result[item.get_attribute("data-figure")] = (
            int(item.get_attribute("data-value")),
            value.inner_text() if value else "",
        )
    return result


def assert_boxes_show(page: Any, figures: dict[str, Any]) -> None:
    shown = boxes(page)
    expected = {
        key: figures[key]
        for key in (*MONEY, "use_rate_bps", "committees_due", "decisions", "committees_held")
    }
    expected["waiting"] = waiting(figures)
    assert {key: value for key, (value, _) in shown.items()} == expected
    for key in MONEY:  # "150 000,00 €": the digits are the cents
        assert re.sub(r"\D", "", shown[key][1]) == str(figures[key]), shown[key]
    rate_text = shown["use_rate_bps"][1]
    assert rate_text.endswith("%") and re.sub(r"\D", "", rate_text).rstrip("0") == str(
        figures["use_rate_bps"]
    ).rstrip("0"), rate_text


def table_departements(page: Any) -> list[str]:
    return [
        row.get_attribute("data-departement")
        for row in page.query_selector_all("#departements tbody tr")
    ]


def test_dinum_sees_the_national_figures_of_stats_national(
    open_page: Any, server: Server, network: Network
) -> None:
    national = server.get("/api/v1/stats/national", ACTORS.dinum)
    assert national["allocated_cents"] > 0 and national["committed_cents"] > 0  # data is there
    page = open_page(ACTORS.dinum)
    assert page.inner_text("h1") == "Tableau de bord national"
    assert_boxes_show(page, national)
    departements = server.get("/api/v1/stats/departements", ACTORS.dinum)
    assert sorted(table_departements(page)) == sorted(
        d["departement"] for d in departements["items"]
    )
    # Every chart has its table: strands and kinds as the API counts them.
    strands = page.query_selector_all("#volets table tbody tr")
    assert len(strands) == len(national["by_strand"])
    kinds = page.query_selector_all("#categories table tbody tr")
    assert len(kinds) == len(national["by_candidate_kind"])
    assert page.get_attribute("#volets svg", "role") == "img"
    assert "Volet 3c" in (page.text_content("#volets svg desc") or "")
    screenshot(page, "national-desktop")
    assert network.refused == []
    assert network.errors == []


def test_the_prefect_of_13_sees_only_13(open_page: Any, server: Server, network: Network) -> None:
    own = server.get("/api/v1/stats/departements", ACTORS.pref13)["items"]
    assert [d["departement"] for d in own] == ["13"]
    page = open_page(ACTORS.pref13)
    assert page.inner_text("h1") == "Tableau de bord — Département 13 (Bouches-du-Rhône)"
    assert_boxes_show(page, own[0])
    national = server.get("/api/v1/stats/national", ACTORS.dinum)
    assert boxes(page)["allocated_cents"][0] != national["allocated_cents"]
    assert table_departements(page) == ["13"]
    # the map colours the 13 only; the 75's envelope is not the prefect's to read
    colored = page.query_selector_all("#carte li[data-rate-bps]")
    assert [tile.get_attribute("data-departement") for tile in colored] == ["13"]
    assert "departement=13" in (page.get_attribute("#lien-scdl", "href") or "")
    screenshot(page, "prefet-13-desktop")
    assert network.refused == []
    assert network.errors == []


def test_a_map_tile_for_each_departement_with_an_envelope(open_page: Any, server: Server) -> None:
    envelopes = server.get("/api/v1/envelopes", ACTORS.dinum)["items"]
    stats = {
        d["departement"]: d for d in server.get("/api/v1/stats/departements", ACTORS.dinum)["items"]
    }
    assert {e["departement"] for e in envelopes} == {"13", "75"}
    page = open_page(ACTORS.dinum)
    for envelope in envelopes:
        code = envelope["departement"]
        tile = page.query_selector(f"#carte li[data-departement='{code}']")
        assert tile is not None, code
        assert int(tile.get_attribute("data-rate-bps")) == stats[code]["use_rate_bps"]
        assert tile.inner_text().startswith(code)
    colored = {
        t.get_attribute("data-departement")
        for t in page.query_selector_all("#carte li[data-rate-bps]")
    }
    assert colored == {"13", "75"}
    # overseas départements are on the map too
    for code in ("971", "972", "973", "974", "976"):
        assert page.query_selector(f"#carte li[data-departement='{code}']") is not None, code
    assert len(page.query_selector_all("#carte li")) >= 101


def test_the_period_filter_changes_the_figures(
    open_page: Any, server: Server, network: Network
) -> None:
    everything = server.get("/api/v1/stats/national", ACTORS.dinum)
    april = server.get(
        "/api/v1/stats/national", ACTORS.dinum, **{"from": "2021-04-01", "to": "2021-04-30"}
    )
    # the envelopes' figures are their state today; the period filters dossiers, decisions,
    # committees held, strands, kinds and months
    assert april["decisions"] != everything["decisions"]
    assert april["by_strand"] != everything["by_strand"]
    page = open_page(ACTORS.dinum)
    assert_boxes_show(page, everything)
    strands_before = page.inner_text("#volets table")
    page.fill("#du", "2021-04-01")
    page.fill("#au", "2021-04-30")
    page.press("#au", "Enter")  # the keyboard submits the filter
    page.wait_for_function(
        "v => document.querySelector(\"#chiffres li[data-figure='decisions']\")"
        ".dataset.value === String(v)",
        arg=april["decisions"],
    )
    page.wait_for_function("document.querySelector('#message').textContent === ''")
    assert_boxes_show(page, april)
    assert page.inner_text("#volets table") != strands_before
    assert page.inner_text("#periode-active") == "Période : du 1er avril 2021 au 30 avril 2021."
    assert "from=2021-04-01" in (page.get_attribute("#lien-scdl", "href") or "")
    page.click("#periode-tout")
    page.wait_for_function(
        "v => document.querySelector(\"#chiffres li[data-figure='decisions']\")"
        ".dataset.value === String(v)",
        arg=everything["decisions"],
    )
    assert network.refused == []
    assert network.errors == []


def test_the_table_sorts_from_the_keyboard(open_page: Any) -> None:
    page = open_page(ACTORS.dinum)
    # Tab reaches the sort button, whose focus is visible (an outline)
    page.focus("#periode-tout")
    for _ in range(200):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.sort") == "allocated_cents":
            break
    else:
        pytest.fail("Tab never reached the sort button")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), outline
    page.keyboard.press("Enter")
    assert (
        page.get_attribute("#departements th:has(button[data-sort='allocated_cents'])", "aria-sort")
        == "ascending"
    )
    assert table_departements(page) == ["75", "13"]  # 50 000 € before 100 000 €
    page.keyboard.press("Enter")  # focus stays on the button
    assert (
        page.get_attribute("#departements th:has(button[data-sort='allocated_cents'])", "aria-sort")
        == "descending"
    )
    assert table_departements(page) == ["13", "75"]


def test_the_figures_download_as_csv(open_page: Any) -> None:
    page = open_page(ACTORS.dinum)
    with page.expect_download() as info:
        page.click("#csv-chiffres")
    path = info.value.path()
    text = open(path, encoding="utf-8").read()  # noqa: PTH123
    assert text.splitlines()[0] == "scope,figure,key,value"


@pytest.mark.parametrize(
    ("who", "width", "height"),
    [("dinum", 1280, 900), ("dinum", 375, 812), ("pref13", 375, 812)],
)
def test_axe_finds_no_serious_or_critical_violation(
    open_page: Any, who: str, width: int, height: int, network: Network
) -> None:
    page = open_page(getattr(ACTORS, who), width=width, height=height)
    violations = run_axe(page)
    screenshot(page, f"{who}-{width}")
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert serious == []
    assert network.refused == []
    assert network.errors == []


def test_the_page_names_no_external_host(server: Server) -> None:
    response = httpx.get(f"{server.base}{PAGE}")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "http" not in csp
    assert 'data-dev-token="on"' in response.text  # not production: a token may be pasted
    assert not re.search(r"(src|href)=\"https?://", response.text)
    css = httpx.get(f"{server.base}{PAGE}static/vendor/dsfr/dsfr.min.css")
    assert css.status_code == 200 and "@font-face" not in css.text
    redirect = httpx.get(f"{server.base}/tableau-de-bord")
    assert redirect.status_code == 308 and redirect.headers["location"] == PAGE


def test_the_token_stays_out_of_addresses_and_leaves_at_sign_out(
    open_page: Any, server: Server
) -> None:
    secret = server.token(ACTORS.dinum)
    page = open_page(ACTORS.dinum, token=secret)
    assert secret not in page.url
    assert page.evaluate("Object.values(sessionStorage)") == [secret]
    assert page.evaluate("Object.values(localStorage)") == []
    page.click("#deconnexion")
    assert page.evaluate("Object.values(sessionStorage)") == []
    assert page.is_hidden("#tableau")
    assert page.is_visible("#jeton-form")


def test_in_production_no_token_can_be_pasted(browser: Any, server: Server) -> None:
    """The page as production renders it (data-dev-token="off") offers no token field."""
    context = browser.new_context()
    try:
        page = context.new_page()
        html = render(dev_token=False)
        assert 'data-dev-token="off"' in html
        page.route(
            f"{server.base}{PAGE}",
            lambda route: route.fulfill(status=200, content_type="text/html", body=html),
        )
        page.goto(f"{server.base}{PAGE}")
        page.wait_for_function("document.querySelector('#jeton-form') !== null")
        assert page.is_hidden("#jeton-form")
        assert page.is_hidden("#tableau")
        # ProConnect's place: the lead wires the login link at merge (branch wt-proconnect)
        assert page.get_attribute("#proconnect", "data-login-url") == (
            "/api/v1/auth/proconnect/login"
        )
        assert page.get_attribute("#proconnect-login", "href") == "/api/v1/auth/proconnect/login"
        assert page.is_hidden("#proconnect-login")  # until the lead wires it
    finally:
        context.close()


def test_anct_sees_the_national_view_and_a_candidate_none(
    browser: Any, open_page: Any, server: Server, network: Network
) -> None:
    national = server.get("/api/v1/stats/national", ACTORS.anct)
    page = open_page(ACTORS.anct)
    assert page.inner_text("h1") == "Tableau de bord national"
    assert_boxes_show(page, national)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{server.base}{PAGE}")
        page.fill("#jeton", server.token(ACTORS.cand_a))
        page.click("#jeton-form button[type=submit]")
        page.wait_for_selector("#message .fr-alert--warning")
        assert "réservés aux agents de l'État" in page.inner_text("#message")
        assert page.is_hidden("#tableau")
    finally:
        context.close()
    assert network.errors == []
