"""Base classes for API schemas (never table models)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

NO_NUL_PATTERN = "^[^\\u0000]*$"


def _refuse_nul(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("caractère NUL (U+0000) interdit dans un texte")
    elif isinstance(value, dict):
        for item in value.values():
            _refuse_nul(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_nul(item)


class InputModel(BaseModel):
    """Request bodies: unknown or server-owned fields answer 422 (mass assignment, API3).

    Texts are kept as sent (no stripping: the contract's lengths are the stored lengths); a
    NUL character is refused everywhere, as PostgreSQL cannot store it (the contract says so
    with a pattern on every free text, added in `app.contract.openapi.build_openapi`).
    """

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        _refuse_nul(data)
        return data


class ReadModel(BaseModel):
    """Responses: built from ORM objects; the contract forbids extra keys."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")


def _json_integer(value: object) -> object:
    """A JSON integer: 12 or 12.0, never true/false nor "12" (lax int would take them)."""
    if type(value) is int:  # the common case first: every response's amounts and versions
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("un entier JSON est attendu")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("un entier JSON est attendu")
        return int(value)
    return value


# Every date a client sends is bounded to a plausible range: no date arithmetic of the rules
# (durations, deadlines) can then leave the calendar (`year 10001 is out of range`), and a
# typo such as 0201 or 2921 is refused at save, naming the field.
DATE_MIN = date(2000, 1, 1)
DATE_MAX = date(2100, 12, 31)
DATE_PATTERN = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date_only(value: object) -> object:
    """A date as ISO 8601 text ("2021-03-01"), never a Unix timestamp nor a date-time."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE_TEXT.fullmatch(value):
        return value
    raise PydanticCustomError("date_format", "Une date ISO 8601 est attendue (ex. 2021-03-01).")


def _plausible_date(value: date) -> date:
    if not DATE_MIN <= value <= DATE_MAX:
        raise PydanticCustomError(
            "date_out_of_range",
            "La date doit être comprise entre le 01/01/2000 et le 31/12/2100.",
        )
    return value


JsonInt = Annotated[int, BeforeValidator(_json_integer)]
IsoDate = Annotated[
    date,
    BeforeValidator(_iso_date_only),
    AfterValidator(_plausible_date),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date",
            "pattern": DATE_PATTERN,
            "description": "Date ISO 8601 (AAAA-MM-JJ), du 2000-01-01 au 2100-12-31.",
        }
    ),
]

MAX_CENTS = 10**13  # 100 billion euros: far above any envelope, well inside BIGINT
MAX_INT32 = 2**31 - 1

Cents = Annotated[JsonInt, Field(ge=0, le=MAX_CENTS, description="Montant en centimes d'euro.")]
Version = Annotated[JsonInt, Field(ge=1, le=MAX_INT32, description="Version de la ressource.")]
Count = Annotated[JsonInt, Field(ge=0, le=MAX_INT32)]


def _iso_8601_only(value: object) -> object:
    """Refuse Unix timestamps ("0.5", 12) where an ISO 8601 date-time is documented."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
    elif isinstance(value, datetime):
        return value
    raise ValueError("une date-heure ISO 8601 est attendue (ex. 2021-03-01T00:00:00Z)")


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_8601_only)]


# A required text has at least one character that is neither whitespace nor NUL. Whitespace is
# spelled out (exactly the characters of `str.isspace()`, which `strip()` removes; a unit test
# checks it) because regex dialects disagree on `\s`; the leading run keeps the match linear.
WHITESPACE_CLASS = (
    "\\t\\n\\u000b\\f\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000"
)
NOT_BLANK_PATTERN = f"^[{WHITESPACE_CLASS}]*[^{WHITESPACE_CLASS}\\u0000][^\\u0000]*$"


@dataclass(frozen=True)
class NotBlank:
    """A required text is refused when blank once trimmed (error `code`), kept as sent
    otherwise; the contract states it with NOT_BLANK_PATTERN, so that a client (and the
    contract fuzzer) knows a blank text is not schema-valid."""

    code: str = "blank"

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = NOT_BLANK_PATTERN
        return json_schema

    def _check(self, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError(self.code, "Ce texte ne peut pas être vide ou blanc.")
        return value


def not_blank(code: str = "blank") -> NotBlank:
    """`Annotated[str, Field(...), not_blank()]`: see NotBlank."""
    return NotBlank(code)
