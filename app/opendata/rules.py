"""Pure SCDL « subventions » 2.1.1 formatting (DOMAIN.md §5): one grant's facts → one row.

No session, no settings, no clock: the service streams the facts, these functions write them.
The CSV is UTF-8, comma-separated, `.` as the decimal mark, euros with two decimals; the JSON
carries the same fields (typed) plus the aid rate and the strand.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.budgets.rules import PaymentConditions, payment_conditions
from app.core.csvcells import csv_text as _csv_text, starts_formula

# The schema's fields, in its order (the CSV header; frictionless checks names and order).
SCDL_FIELDS: tuple[str, ...] = (
    "nomAttribuant",
    "idAttribuant",
    "dateConvention",
    "referenceDecision",
    "nomBeneficiaire",
    "idBeneficiaire",
    "rnaBeneficiaire",
    "objet",
    "montant",
    "nature",
    "conditionsVersement",
    "datesPeriodeVersement",
    "idRAE",
    "notificationUE",
    "pourcentageSubvention",
    "dispositifAide",
)
# Added by the JSON export only (not SCDL fields): net amount / frozen eligible cost, strand.
JSON_EXTRA_FIELDS: tuple[str, ...] = ("tauxAide", "volet")

OBJET_MAX = 256  # SCDL: `objet` is at most 256 characters
NATURE = "aide en numéraire"  # FITN7 grants are money only
NOTIFICATION_UE = "non"  # not a de minimis aid notified to the European Commission
# SCDL 2.1.1: the beneficiary's share of the grant, 1.00 for a single beneficiary (every FITN7
# grant); not an aid rate (that is `tauxAide`, JSON only).
SINGLE_BENEFICIARY_SHARE = "1.00"
AID_RATE_DECIMALS = Decimal("0.0001")
MAX_AID_RATE = Decimal("1.0000")  # §5: the aid rate is never above 1.00


@dataclass(frozen=True)
class Schedule:
    """What the export reads of a convention's schedule: how many payments have a due date,
    the first and the last of them."""

    count: int = 0
    first: date | None = None
    last: date | None = None

    @classmethod
    def of(cls, due_dates: Sequence[date]) -> Schedule:
        if not due_dates:
            return cls()
        return cls(len(due_dates), min(due_dates), max(due_dates))


@dataclass(frozen=True)
class GrantFacts:
    """What one exported grant needs, as read by the service in one row."""

    prefecture_name: str
    prefecture_siret: str
    convention_signed_on: date
    decision_reference: str | None
    beneficiary_name: str
    beneficiary_siret: str
    title: str
    amount_cents: int
    schedule: Schedule  # the convention schedule's due dates
    strand: str
    eligible_cost_cents: int


def euros_text(cents: int) -> str:
    """12345 → "123.45": euros with two decimals and `.` (exact, no float)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def clip_objet(title: str, limit: int = OBJET_MAX) -> str:
    """SCDL `objet`: at most 256 characters (an ellipsis marks a cut)."""
    text = " ".join(title.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def payment_period(schedule: Schedule, signed_on: date) -> str:
    """SCDL `datesPeriodeVersement`: the date of a single payment, else the period
    `AAAA-MM-JJ/AAAA-MM-JJ` from the first to the last due date. A convention without a
    schedule (`autre`) states the day it was signed."""
    if schedule.first is None or schedule.last is None:
        return signed_on.isoformat()
    if schedule.count == 1:
        return schedule.first.isoformat()
    return f"{schedule.first.isoformat()}/{schedule.last.isoformat()}"


def aid_rate(amount_cents: int, eligible_cost_cents: int) -> Decimal | None:
    """Net amount / eligible cost frozen at the decision (R-PAY-4), 4 decimals (0.8000 for
    80 %), never above 1.0000 (§5); None when nothing is eligible."""
    if eligible_cost_cents <= 0:
        return None
    rate = (Decimal(amount_cents) / Decimal(eligible_cost_cents)).quantize(
        AID_RATE_DECIMALS, rounding=ROUND_HALF_UP
    )
    return min(rate, MAX_AID_RATE)


def scdl_row(facts: GrantFacts) -> dict[str, str]:
    """The SCDL fields of one grant, as the CSV writes them (empty string: not given)."""
    conditions: PaymentConditions = payment_conditions(facts.schedule.count)
    return {
        "nomAttribuant": facts.prefecture_name,
        "idAttribuant": facts.prefecture_siret,
        "dateConvention": facts.convention_signed_on.isoformat(),
        "referenceDecision": facts.decision_reference or "",
        "nomBeneficiaire": facts.beneficiary_name,
        "idBeneficiaire": facts.beneficiary_siret,
        "rnaBeneficiaire": "",
        "objet": clip_objet(facts.title),
        "montant": euros_text(facts.amount_cents),
        "nature": NATURE,
        "conditionsVersement": conditions.value,
        "datesPeriodeVersement": payment_period(facts.schedule, facts.convention_signed_on),
        "idRAE": "",
        "notificationUE": NOTIFICATION_UE,
        "pourcentageSubvention": SINGLE_BENEFICIARY_SHARE,
        "dispositifAide": "",
    }


# The cells the service writes as numbers or dates (the schema types them so): written as they
# are; every other cell is text, neutralised against spreadsheet formulas (DOMAIN.md §5).
SCDL_NOT_TEXT = frozenset(
    SCDL_FIELDS.index(name)
    for name in ("dateConvention", "montant", "datesPeriodeVersement", "pourcentageSubvention")
)


def csv_text(rows: Iterable[Sequence[str]]) -> str:
    """CSV lines (comma, minimal quoting, CRLF as RFC 4180) for these SCDL rows, text cells
    neutralised against formulas (`app.core.csvcells`)."""
    return _csv_text(rows, numeric=SCDL_NOT_TEXT)


def csv_header() -> str:
    return csv_text([SCDL_FIELDS])


def csv_line(facts: GrantFacts) -> list[str]:
    row = scdl_row(facts)
    if starts_formula(row["objet"]):  # its neutralising `'` must fit the schema's 256 too
        row["objet"] = clip_objet(facts.title, OBJET_MAX - 1)
    return [row[name] for name in SCDL_FIELDS]


# Numbers are written as JSON number literals from exact decimal text (no float rounding).
_JSON_NUMBERS = frozenset({"montant", "pourcentageSubvention"})


def json_record(facts: GrantFacts) -> str:
    """One grant as a JSON object: the SCDL fields typed (numbers, `notificationUE` a
    boolean, absent optional fields null), then `tauxAide` and `volet`."""
    row = scdl_row(facts)
    parts: list[str] = []
    for name in SCDL_FIELDS:
        value: Any = row[name]
        if name in _JSON_NUMBERS:
            text = value
        elif name == "notificationUE":
            text = "true" if value == "oui" else "false"
        else:
            text = json.dumps(value or None, ensure_ascii=False)
        parts.append(f'"{name}":{text}')
    rate = aid_rate(facts.amount_cents, facts.eligible_cost_cents)
    parts.append(f'"tauxAide":{"null" if rate is None else str(rate)}')
    parts.append(f'"volet":{json.dumps(facts.strand)}')
    return "{" + ",".join(parts) + "}"
