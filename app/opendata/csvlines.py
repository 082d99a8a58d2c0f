"""The export's CSV lines written straight from the published rows (issue 28).

`rules.csv_line` builds each grant's cells from its `GrantFacts`, and the `csv` module writes
them: about 17 µs a row, most of the export's time. The export writes the same bytes here
from the rows of `repository.export_stmt` as they come:
- the text cells repeat from row to row (a prefecture, a committee's decision, a
  beneficiary, a programme's dispositif), and so do the convention's dates and schedules:
  each distinct one is written once (`text_cell`, then the `csv` module's minimal quoting) and
  then found in a bounded cache, whose size does not grow with the export;
- the title (one a grant) is clipped as `clip_objet` does, the amount written inline;
- one f-string a line, no `GrantFacts`, no `csv.writer`.
tests/unit/opendata/test_csvlines.py holds both writers to the same bytes on tricky rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from app.budgets.rules import payment_conditions
from app.core.csvcells import starts_formula, text_cell
from app.opendata.rules import (
    NATURE,
    NOTIFICATION_UE,
    OBJET_MAX,
    SINGLE_BENEFICIARY_SHARE,
    Schedule,
    clip_objet,
    euros_text,
    payment_period,
)

# The `csv` module's QUOTE_MINIMAL with the CRLF terminator: a cell holding one of these is
# quoted, its quotes doubled.
_NEEDS_QUOTES = re.compile('[,"\r\n]')
# What `objet` may change in a title: whitespace other than single spaces between words (what
# `clip_objet` squeezes: `\s` is `str.split`'s whitespace), a formula's start, a cell to quote.
_OBJET_UNCHANGED_BUT = re.compile(r'^\s|\s$|\s\s|[^\S ]|^[=+\-@]|[,"\r\n]')
# Distinct texts and schedules kept (a few MiB at most, whatever the export's size).
CACHED = 16_384


def quoted(cell: str) -> str:
    """One cell as the `csv` module writes it (QUOTE_MINIMAL, `lineterminator="\\r\\n"`)."""
    return '"' + cell.replace('"', '""') + '"' if _NEEDS_QUOTES.search(cell) else cell


@lru_cache(maxsize=CACHED)
def text(value: str) -> str:
    """A text cell: neutralised against formulas (`text_cell`), quoted."""
    return quoted(text_cell(value))


@lru_cache(maxsize=CACHED)
def schedule_cells(
    count: int, first: date | None, last: date | None, signed_on: date
) -> tuple[str, str]:
    """`dateConvention`, and `conditionsVersement,datesPeriodeVersement`."""
    period = payment_period(Schedule(count, first, last), signed_on)
    return signed_on.isoformat(), f"{payment_conditions(count).value},{period}"


def objet(title: str) -> str:
    """`csv_line`'s objet (clipped, neutralised within the 256 characters), quoted: most
    titles are written as they are, which one search tells."""
    if len(title) <= OBJET_MAX and not _OBJET_UNCHANGED_BUT.search(title):
        return title
    clipped = clip_objet(title)
    if starts_formula(clipped):
        clipped = "'" + clip_objet(title, OBJET_MAX - 1)
    return quoted(clipped)


_NATURE = quoted(NATURE)
# idRAE (empty), notificationUE, pourcentageSubvention
_TAIL = f",{quoted(NOTIFICATION_UE)},{quoted(SINGLE_BENEFICIARY_SHARE)},"


def csv_lines(rows: Iterable[Sequence[Any]]) -> str:
    """The CSV lines of rows of `export_stmt` (`repository.FACT_COLUMNS`, in that order): the
    bytes of `rules.csv_lines` over their `GrantFacts`."""
    lines = []
    for row in rows:
        (prefecture, prefecture_siret, signed_on, reference, name, siret, title, cents,
         count, first, last, _strand, _eligible, dispositif) = row  # fmt: skip
        day, schedule = schedule_cells(count, first, last, signed_on)
        amount = f"{cents // 100}.{cents % 100:02d}" if cents >= 0 else euros_text(cents)
        lines.append(
            f"{text(prefecture)},{text(prefecture_siret)},{day},{text(reference or '')},"
            f"{text(name)},{text(siret)},,{objet(title)},{amount},{_NATURE},"
            f"{schedule},{_TAIL}{text(dispositif)}\r\n"
        )
    return "".join(lines)
