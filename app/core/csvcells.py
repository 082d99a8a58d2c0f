"""The one CSV writer of the service: every text cell neutralised against spreadsheet formulas.

DOMAIN.md §5 (open data, last sentence of the SCDL paragraph), after OWASP's « CSV Injection »
advice: a text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed
with `'`, so that a spreadsheet shows it as text instead of evaluating it. Only text: the
cells the service writes as numbers or dates (amounts, rates, days, counts) are named by the
caller and written as they are, so that they stay numbers for a schema and a spreadsheet. The
JSON forms keep the raw text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def starts_formula(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


def text_cell(text: str) -> str:
    """`=1+1` → `'=1+1`; any other text as it is."""
    return "'" + text if starts_formula(text) else text


def csv_text(rows: Iterable[Sequence[str]], *, numeric: Collection[int] = ()) -> str:
    """CSV lines (comma, minimal quoting, CRLF as RFC 4180) for these rows; every cell is
    text (neutralised) except the columns whose indexes are in `numeric`."""
    return neutralised_csv_text(
        [cell if index in numeric else text_cell(cell) for index, cell in enumerate(row)]
        for row in rows
    )


def neutralised_csv_text(rows: Iterable[Sequence[str]]) -> str:
    """The same lines for rows whose text cells the caller has already passed through
    `text_cell` (a hot export writes its constant cells once and neutralises only the
    others)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue()
