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

from app.budgets.rules import PaymentConditions, payment_conditions
from app.core.csvcells import (
    csv_text as _csv_text,
    neutralised_csv_text,
    starts_formula,
    text_cell,
)

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
NATURE = "aide en numéraire"  # the guichet's grants are money only
NOTIFICATION_UE = "non"  # not a de minimis aid notified to the European Commission
# SCDL 2.1.1: the beneficiary's share of the grant, 1.00 for a single beneficiary (every grant
# of the guichet); not an aid rate (that is `tauxAide`, JSON only).
SINGLE_BENEFICIARY_SHARE = "1.00"
AID_RATE_DECIMALS = Decimal("0.0001")
MAX_AID_RATE = Decimal("1.0000")  # §5: the aid rate is never above 1.00


@dataclass
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


@dataclass
class GrantFacts:
    """What one exported grant needs, as read by the service in one row (not frozen: built
    for every row of the export, and a frozen dataclass costs twice as much to build)."""

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
    dispositif_aide: str = ""  # SCDL dispositifAide: the grant's programme's (R-PROG-1)


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
        "dispositifAide": facts.dispositif_aide,
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
    """One grant's CSV cells in SCDL order, the text cells already neutralised (`text_cell`;
    the constant ones never start a formula); the same cells as `scdl_row`."""
    objet = clip_objet(facts.title)
    if starts_formula(objet):  # its neutralising `'` must fit the schema's 256 too
        objet = "'" + clip_objet(facts.title, OBJET_MAX - 1)
    schedule = facts.schedule
    return [
        text_cell(facts.prefecture_name),
        text_cell(facts.prefecture_siret),
        facts.convention_signed_on.isoformat(),
        text_cell(facts.decision_reference or ""),
        text_cell(facts.beneficiary_name),
        text_cell(facts.beneficiary_siret),
        "",
        objet,
        euros_text(facts.amount_cents),
        NATURE,
        payment_conditions(schedule.count).value,
        payment_period(schedule, facts.convention_signed_on),
        "",
        NOTIFICATION_UE,
        SINGLE_BENEFICIARY_SHARE,
        text_cell(facts.dispositif_aide),
    ]


def csv_lines(batch: Iterable[GrantFacts]) -> str:
    """The CSV lines of these grants (`csv_line` already neutralised their text cells)."""
    return neutralised_csv_text(csv_line(facts) for facts in batch)


# JSON strings as json.dumps(text, ensure_ascii=False) writes them (its own C encoder), an
# empty text as null; the constant cells written once.
_json_string = json.encoder.encode_basestring
_JSON_NATURE = _json_string(NATURE)
_JSON_NOTIFICATION_UE = "true" if NOTIFICATION_UE == "oui" else "false"


def _json_text(text: str | None) -> str:
    return _json_string(text) if text else "null"


def json_record(facts: GrantFacts) -> str:
    """One grant as a JSON object: the SCDL fields typed (numbers, `notificationUE` a
    boolean, absent optional fields null), then `tauxAide` and `volet`; the fields of
    `scdl_row`, numbers written from exact decimal text (no float rounding)."""
    schedule = facts.schedule
    rate = aid_rate(facts.amount_cents, facts.eligible_cost_cents)
    return (
        f'{{"nomAttribuant":{_json_text(facts.prefecture_name)}'
        f',"idAttribuant":{_json_text(facts.prefecture_siret)}'
        f',"dateConvention":"{facts.convention_signed_on.isoformat()}"'
        f',"referenceDecision":{_json_text(facts.decision_reference)}'
        f',"nomBeneficiaire":{_json_text(facts.beneficiary_name)}'
        f',"idBeneficiaire":{_json_text(facts.beneficiary_siret)}'
        ',"rnaBeneficiaire":null'
        f',"objet":{_json_text(clip_objet(facts.title))}'
        f',"montant":{euros_text(facts.amount_cents)}'
        f',"nature":{_JSON_NATURE}'
        f',"conditionsVersement":{_json_string(payment_conditions(schedule.count).value)}'
        f',"datesPeriodeVersement":"{payment_period(schedule, facts.convention_signed_on)}"'
        ',"idRAE":null'
        f',"notificationUE":{_JSON_NOTIFICATION_UE}'
        f',"pourcentageSubvention":{SINGLE_BENEFICIARY_SHARE}'
        f',"dispositifAide":{_json_text(facts.dispositif_aide)}'
        f',"tauxAide":{"null" if rate is None else str(rate)}'
        f',"volet":{json.dumps(facts.strand)}}}'
    )
