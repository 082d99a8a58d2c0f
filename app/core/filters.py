"""Query filters shared by every list: timestamps (R-SYNC-1 `updated_since`, `submitted_from/to`).

A timestamp filter is compared with UTC-aware columns: a naive value, a date alone or a year
whose UTC conversion leaves the calendar could only fail inside the database (500). The accepted
set is exactly what `TIMESTAMP_PATTERN` states in the contract: an RFC 3339 date-time with its
offset (`Z` or ±hh:mm), a real calendar day, a year from 2000 to 2999. Anything else answers
422 problem+json naming the parameter (`errors[].in` = "query").
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query
from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

_YEAR = r"2[0-9]{3}"
# Leap years of 2000–2999: every fourth year but the centuries, except 2000, 2400 and 2800.
_LEAP_YEAR = r"(?:2[0-9](?:0[48]|[2468][048]|[13579][26])|2[048]00)"
_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_DATE = rf"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
_OFFSET = r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"

# Every string it matches is a valid instant (no February 30, no leap second, no overflow once
# converted to UTC), so the contract's pattern is exactly the server's acceptance set.
TIMESTAMP_PATTERN = rf"^{_DATE}T{_TIME}{_OFFSET}$"
_TIMESTAMP_RE = re.compile(TIMESTAMP_PATTERN)

_RULES = (
    "Date-heure RFC 3339 avec son décalage horaire (`Z` ou ±hh:mm, « + » encodé %2B dans "
    "l'URL), année 2000 à 2999, secondes à 6 décimales au plus "
    "(ex. `2021-03-01T00:00:00Z`, `2021-03-01T08:30:00%2B01:00`). Une date seule, une "
    "date-heure sans décalage ou hors de ces années : 422."
)
_MESSAGE = (
    "Date-heure RFC 3339 avec décalage horaire attendue, année 2000 à 2999 "
    "(ex. 2021-03-01T00:00:00Z)."
)


def parse_timestamp(value: object) -> datetime:
    """The UTC instant of an accepted timestamp text; any other value raises a 422 error."""
    if isinstance(value, str) and _TIMESTAMP_RE.fullmatch(value):
        return datetime.fromisoformat(value).astimezone(UTC)
    raise PydanticCustomError("invalid_timestamp", _MESSAGE)


Timestamp = Annotated[
    datetime,
    PlainValidator(parse_timestamp),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": TIMESTAMP_PATTERN}),
]

UpdatedSince = Annotated[
    Timestamp | None,
    Query(
        description="Seulement ce qui a changé depuis cet instant (R-SYNC-1). Une ligne dont "
        "la transaction valide tard peut porter un instant déjà dépassé par le client et être "
        "manquée ; le journal `GET /audit-events?after=<seq>` (ordre des validations, sans "
        "trou) ne manque rien. " + _RULES
    ),
]
SubmittedFrom = Annotated[
    Timestamp | None, Query(description="Déposés à partir de cet instant. " + _RULES)
]
SubmittedTo = Annotated[
    Timestamp | None, Query(description="Déposés jusqu'à cet instant inclus. " + _RULES)
]
