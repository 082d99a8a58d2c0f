"""/tableau-de-bord/ looked at (issue 27 §6): screenshots of the national view, a prefect's and
a candidate's refusal over the known data set (tests/api/stats/dataset.py: built through the
API with the clock moved from February to May 2021), written under the test's tmp dir, and the
DOM checked for what the screenshots must show: no « Se déconnecter » before sign-in, a
heading that follows who is signed in, a monthly chart with a scale, month labels and a legend
spanning the data's months, "Engagé" explained, the prefect's map zoomed on its région, dates
in words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.openapi_export import CONTRACT_PATH
from tests.conftest import ACTORS
from tests.dashboard.conftest import Network, Server

PAGE = "/tableau-de-bord/"
PACA = {"04", "05", "06", "13", "83", "84"}  # Provence-Alpes-Côte d'Azur (COG région 93)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = tmp_path / "captures"
    folder.mkdir()
    return folder


def shoot(page: Any, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, path  # a page, not a blank
    return path


def plain(text: str) -> str:
    """French number formats space with U+00A0 and U+202F: a plain space to compare."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def graduations(page: Any, axis: str, attribute: str) -> list[tuple[str, str]]:
    return [
        (node.get_attribute(attribute), plain(node.text_content()))
        for node in page.query_selector_all(f"#mois svg .{axis} text.graduation")
    ]


def months_between(first: str, last: str) -> list[str]:
    months, month = [], first
    while month <= last:
        months.append(month)
        year, number = map(int, month.split("-"))
        month = f"{year + 1}-01" if number == 12 else f"{year}-{number + 1:02d}"
    return months


def test_before_sign_in_no_sign_out_button_and_nothing_hidden_shows(
    browser: Any, server: Server, shots: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    try:
        page = context.new_page()
        page.goto(f"{server.base}{PAGE}")
        page.wait_for_selector("#jeton-form:not([hidden])")
        assert page.query_selector_all("#deconnexion") == []
        assert page.get_by_role("button", name="Se déconnecter").count() == 0
        assert page.inner_text("h1") == "Tableau de bord"
        # DSFR's classes give their elements a display: `hidden` must still win
        shown = page.evaluate(
            "[...document.querySelectorAll('[hidden]')]"
            ".filter((e) => getComputedStyle(e).display !== 'none').map((e) => e.id)"
        )
        assert shown == []
        assert page.is_hidden("#tableau") and page.is_hidden("#proconnect")
        for field in ("#du", "#au"):
            assert page.get_attribute(field, "lang") == "fr"
        shoot(page, shots, "avant-connexion")
    finally:
        context.close()


def test_national_view_chart_axes_and_engaged_explained(
    open_page: Any, server: Server, network: Network, shots: Path
) -> None:
    national = server.get("/api/v1/stats/national", ACTORS.dinum, group_by="month")
    series = national["series"]
    data_months = sorted(m["month"] for m in series)
    assert len(data_months) >= 3  # the data set spans several months
    page = open_page(ACTORS.dinum)
    assert page.inner_text("h1") == "Tableau de bord national"
    assert page.is_visible("#deconnexion")

    # the horizontal axis: every month from the data's first to its last, in French
    x = graduations(page, "axe-x", "data-month")
    assert [month for month, _ in x] == months_between(data_months[0], data_months[-1])
    assert [label for _, label in x][:3] == ["mars 2021", "avr. 2021", "mai 2021"]
    # the vertical axis: a round scale from 0 € to at least the largest amount drawn
    y = graduations(page, "axe-y", "data-cents")
    cents = [int(value) for value, _ in y]
    assert len(cents) >= 3 and cents[0] == 0 and cents == sorted(cents)
    assert len({b - a for a, b in zip(cents, cents[1:], strict=False)}) == 1  # even steps
    largest = max(max(m["commitments_cents"], m["payments_cents"]) for m in series)
    assert cents[-1] >= largest > cents[-2]
    assert y[0][1] == "0 €" and y[-1][1].endswith("€")
    titles = page.eval_on_selector_all("#mois svg .titre-axe", "n => n.map(e => e.textContent)")
    assert titles == ["Montant (euros)", "Mois"]
    legend = page.eval_on_selector_all(
        "#mois svg .legende-graphique text", "n => n.map(e => e.textContent)"
    )
    assert [text.split(" (")[0] for text in legend] == ["Montant engagé", "Montant payé"]
    assert len(page.query_selector_all("#mois svg polyline")) == 2
    # values written above the engaged points
    assert "k €" in plain(
        " ".join(
            page.eval_on_selector_all("#mois svg text.valeur", "n => n.map(e => e.textContent)")
        )
    )

    # "Engagé": the key figure against the months, explained and reconciled
    total = sum(m["commitments_cents"] for m in series)
    assert total == national["committed_cents"]  # what the explanation says, over all months
    assert page.get_attribute("#mois-totaux", "data-total-cents") == str(total)
    assert "égal au chiffre clé « Engagé »" in page.inner_text("#mois-totaux")
    explanation = page.inner_text("#mois-explication")
    assert "montants nets des subventions décidées ce mois-là" in explanation
    assert "engagement net des enveloppes aujourd'hui" in explanation
    hint = page.inner_text("#chiffres li[data-figure='committed_cents'] .chiffre__aide")
    assert hint.startswith("net, aujourd'hui")
    shoot(page, shots, "national")
    page.locator("#mois svg").screenshot(path=str(shots / "national-mois.png"))  # the detail

    # signed out: the heading no longer says national, the button is gone
    page.click("#deconnexion")
    assert page.inner_text("h1") == "Tableau de bord"
    assert page.query_selector_all("#deconnexion") == []
    assert page.is_hidden("#tableau")
    assert page.evaluate("document.activeElement.id") == "jeton"
    assert network.refused == [] and network.errors == []


def test_a_period_stretches_the_months_and_explains_the_gap(
    open_page: Any, server: Server, network: Network
) -> None:
    page = open_page(ACTORS.dinum)
    page.fill("#du", "2021-02-01")
    page.fill("#au", "2021-06-30")
    assert page.inner_text("#du-en-lettres") == "1er février 2021"
    page.press("#au", "Enter")
    # (wait_for_function would evaluate a string: the page's CSP refuses eval)
    page.wait_for_selector("#periode-active:has-text('juin')")
    assert page.inner_text("#periode-active") == "Période : du 1er février 2021 au 30 juin 2021."
    x = graduations(page, "axe-x", "data-month")
    assert [month for month, _ in x] == months_between("2021-02", "2021-06")
    # April alone: the months count April's decisions, "Engagé" all of them
    april = server.get(
        "/api/v1/stats/national", ACTORS.dinum, group_by="month", to="2021-04-30",
        **{"from": "2021-04-01"},
    )  # fmt: skip
    page.fill("#du", "2021-04-01")
    page.fill("#au", "2021-04-30")
    page.press("#au", "Enter")
    page.wait_for_selector("#mois-totaux:has-text('écart')")
    in_april = sum(m["commitments_cents"] for m in april["series"])
    assert 0 < in_april < april["committed_cents"]
    assert page.get_attribute("#mois-totaux", "data-total-cents") == str(in_april)
    assert "décidées hors de la période" in page.inner_text("#mois-totaux")
    assert network.errors == []


def test_prefect_view_zooms_on_its_region(
    open_page: Any, server: Server, network: Network, shots: Path
) -> None:
    page = open_page(ACTORS.pref13)
    assert page.inner_text("h1") == "Tableau de bord — Département 13 (Bouches-du-Rhône)"
    assert "Provence-Alpes-Côte d'Azur" in page.inner_text("#perimetre")
    tiles = {t.get_attribute("data-departement") for t in page.query_selector_all("#carte li")}
    assert tiles == PACA
    assert page.get_attribute("#carte", "data-region") == "93"
    assert "Provence-Alpes-Côte d'Azur" in page.inner_text("#carte-titre")
    colored = page.query_selector_all("#carte li[data-rate-bps]")
    assert [t.get_attribute("data-departement") for t in colored] == ["13"]
    # zoomed: a tile of the région is far larger than a tile of the national map (~50 px)
    box = page.query_selector("#carte li[data-departement='13']").bounding_box()
    assert box["width"] > 100, box
    assert "Bouches-du-Rhône" in page.inner_text("#carte li[data-departement='13']")
    assert len(page.query_selector_all("#mois svg .axe-y text.graduation")) >= 3
    shoot(page, shots, "prefet-13")
    page.locator("#carte").screenshot(path=str(shots / "prefet-13-carte.png"))
    assert network.refused == [] and network.errors == []


def test_a_candidate_is_told_the_dashboards_are_for_the_states_agents(
    browser: Any, server: Server, shots: Path
) -> None:
    # the contract: no /stats operation is open to a candidate, which is what the page says
    contract = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))
    stats = [op for path, item in contract["paths"].items() if "/stats/" in path
             for op in item.values()]  # fmt: skip
    assert stats and all("candidate" not in op["x-roles"] for op in stats)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    try:
        page = context.new_page()
        page.goto(f"{server.base}{PAGE}")
        page.fill("#jeton", server.token(ACTORS.cand_a))
        page.click("#jeton-form button[type=submit]")
        page.wait_for_selector("#message .fr-alert--warning")
        message = page.inner_text("#message")
        assert "réservés aux agents de l'État" in message
        assert "compte de candidat" in message and "aucun" in message
        assert "connectez" not in message.lower()  # not told to sign in: it is signed in
        assert page.inner_text("h1") == "Tableau de bord"
        assert page.is_hidden("#tableau")
        assert page.is_visible("#deconnexion")
        shoot(page, shots, "candidat")
    finally:
        context.close()
