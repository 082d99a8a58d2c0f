"""The export's CSV lines (`csvlines`, issue 28) are the bytes of `rules.csv_lines`."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest

from app.opendata import csvlines, rules
from app.opendata.service import facts_of

ROW: tuple[Any, ...] = (
    "Préfecture du 13", "13002526500013", date(2021, 3, 2), "Comité 13 02/2021", "Marseille",
    "21130055300016", "Projet numérique n° 1 : démarches en ligne", 1_234_567, 2,
    date(2021, 3, 2), date(2022, 3, 2), "3b", 2_000_000, "France Relance — FITN7",
)  # fmt: skip
TRICKY = [
    "",
    " ",
    "a,b",
    'dit "oui"',
    "ligne\nsuivante",
    "retour\rchariot",
    "fin\r\n",
    "=1+1",
    "+33",
    "-x",
    "@moi",
    "\tindent",
    "\rdébut",
    "  deux  espaces  ",
    "insécable\u00a0ici",
    "fine\u202finsécable",
    "sep\x1cfichier",
    "x" * 256,
    "y" * 257,
    "=" + "z" * 300,
    " =après espace",
    "’apostrophe",
    "\u3000idéographique",
    "a\u2028b",
    "é" * 255 + " é",
]


def _python(rows: list[tuple[Any, ...]]) -> str:
    return rules.csv_lines(facts_of(row) for row in rows)


@pytest.mark.parametrize("text", TRICKY)
@pytest.mark.parametrize("column", [0, 1, 3, 4, 5, 6, 13])
def test_text_cells_as_the_csv_module_writes_them(text: str, column: int) -> None:
    row = list(ROW)
    row[column] = text
    assert csvlines.csv_lines([tuple(row)]) == _python([tuple(row)])


@pytest.mark.parametrize(
    ("cents", "count", "first", "last"),
    [(0, 0, None, None), (5, 1, date(2021, 4, 1), date(2021, 4, 1)), (-123_456, 2, None, None),
     (100, 3, date(2021, 3, 20), date(2021, 9, 30)), (99, 1, date(2021, 5, 1), None)],
)  # fmt: skip
def test_amounts_and_schedules(
    cents: int, count: int, first: date | None, last: date | None
) -> None:
    row = (*ROW[:7], cents, count, first, last, *ROW[11:])
    assert csvlines.csv_lines([row]) == _python([row])


def test_no_reference_and_random_texts() -> None:
    alphabet = 'ab ,"\r\n\t=+-@\u00a0\u2009é…'
    rng = random.Random(28)
    rows = [(*ROW[:3], None, *ROW[4:])]
    for _ in range(2_000):
        row = list(ROW)
        for column in (0, 3, 4, 6, 13):
            row[column] = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        rows.append(tuple(row))
    assert csvlines.csv_lines(rows) == _python(rows)
