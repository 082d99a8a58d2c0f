"""Cursor (keyset) pagination: no OFFSET, stable under concurrent inserts.

Each list has its own cursor format, named after it, so that a cursor handed to another list is
recognised as foreign: `projects.<µs since the epoch>.<uuid hex>` for lists ordered by
(created_at, id), `ledger.<id>` for the ledger (ordered by its serial id). The contract states
each format as a pattern, and every string matching it is a position the server accepts; any
other `cursor` answers 422 `invalid-cursor` before the database is queried.
"""

# No `from __future__ import annotations` here: the parameters of `page_params_for`'s inner
# function must be real objects, since FastAPI cannot resolve names local to a closure.
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, tuple_

from app.core.errors import ProblemItem, UnprocessableEntity

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# At most 16 digits: ±10^16 µs from the epoch stays within the years 1653–2286, all datetimes.
_MICROS = r"-?(?:0|[1-9][0-9]{0,15})"
_UUID_HEX = r"[0-9a-f]{32}"
# 0 to 2^31 - 1: the ledger's INTEGER key.
_INT32 = (
    r"(?:0|[1-9][0-9]{0,8}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}"
    r"|2147[0-3][0-9]{5}|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}"
    r"|21474836[0-3][0-9]|214748364[0-7])"
)
_LIST_NAME = re.compile(r"^[a-z]+$")


class InvalidCursor(UnprocessableEntity):
    slug = "invalid-cursor"
    title = "Curseur invalide"
    default_detail = (
        "Le curseur de pagination est invalide ou appartient à une autre liste : "
        "repartez de la première page."
    )

    def __init__(self) -> None:
        super().__init__(
            errors=[
                ProblemItem(
                    code=self.slug,
                    message="Curseur inconnu de cette liste : renvoyez le `next_cursor` reçu.",
                    field="cursor",
                    location="query",
                )
            ]
        )


@dataclass(frozen=True)
class CursorFormat:
    """The cursor of one list: its name, and whether it is keyed by a serial id."""

    list_name: str
    serial: bool = False

    def __post_init__(self) -> None:
        if not _LIST_NAME.match(self.list_name):
            raise ValueError(f"list name must be lowercase letters: {self.list_name!r}")

    @property
    def pattern(self) -> str:
        position = _INT32 if self.serial else rf"{_MICROS}\.{_UUID_HEX}"
        return rf"^{self.list_name}\.{position}$"

    def check(self, cursor: str) -> None:
        if not re.fullmatch(self.pattern, cursor):
            raise InvalidCursor()

    def encode_keyset(self, created_at: datetime, row_id: uuid.UUID) -> str:
        micros = (created_at - _EPOCH) // _MICROSECOND
        return f"{self.list_name}.{micros}.{row_id.hex}"

    def decode_keyset(self, cursor: str) -> tuple[datetime, uuid.UUID]:
        self.check(cursor)
        _name, micros, row_hex = cursor.split(".")
        return _EPOCH + int(micros) * _MICROSECOND, uuid.UUID(hex=row_hex)

    def encode_serial(self, row_id: int) -> str:
        return f"{self.list_name}.{row_id}"

    def decode_serial(self, cursor: str) -> int:
        self.check(cursor)
        return int(cursor.split(".")[1])


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None
    format: CursorFormat

    def after_serial(self) -> int | None:
        """The serial id to start after (lists keyed by a serial id)."""
        return None if self.cursor is None else self.format.decode_serial(self.cursor)

    def serial_cursor(self, row_id: int) -> str:
        return self.format.encode_serial(row_id)


def page_params_for(cursor_format: CursorFormat) -> Callable[..., Awaitable[PageParams]]:
    """The `limit` and `cursor` query parameters of one list (`Depends(page_params_for(…))`)."""
    example = (
        f"{cursor_format.list_name}.42"
        if cursor_format.serial
        else f"{cursor_format.list_name}.1614556800000000.{uuid.UUID(int=1).hex}"
    )

    # async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop on every
    # list request for two query parameters (issue 13).
    async def page_params(
        limit: Annotated[
            int,
            Query(ge=1, le=MAX_LIMIT, description="Taille de page (50 par défaut, 200 au plus)."),
        ] = DEFAULT_LIMIT,
        cursor: Annotated[
            str | None,
            Query(
                description=(
                    "`next_cursor` reçu de cette même liste (ex. `" + example + "`). Un curseur "
                    "d'une autre liste ou mal formé : 422 `invalid-cursor`."
                ),
                json_schema_extra={"pattern": cursor_format.pattern},
            ),
        ] = None,
    ) -> PageParams:
        if cursor is not None:
            cursor_format.check(cursor)
        return PageParams(limit=limit, cursor=cursor, format=cursor_format)

    return page_params


T = TypeVar("T")
R = TypeVar("R")
# Any SELECT, whatever its columns: keyset_page hands back the statement type it was given.
SelectT = TypeVar("SelectT", bound="Select[*tuple[Any, ...]]")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None,
        max_length=200,
        description="À repasser en `cursor` à la même liste ; absent en fin de liste.",
    )


def keyset_page(stmt: SelectT, created_col: Any, id_col: Any, params: PageParams) -> SelectT:
    """Order by (created_at, id), start after the cursor, fetch one extra row to detect more."""
    if params.cursor:
        created, row_id = params.format.decode_keyset(params.cursor)
        # A row comparison, not `a > x OR (a = x AND id > y)`: both PostgreSQL and SQLite
        # (3.15+) turn it into one index range on (created_at, id), on every page (issue 13).
        after: ColumnElement[bool] = tuple_(created_col, id_col) > (created, row_id)
        stmt = stmt.where(after)
    return stmt.order_by(created_col, id_col).limit(params.limit + 1)


def split_page(rows: list[R], params: PageParams, key: Any) -> tuple[list[R], str | None]:
    """Cut the extra row and build the next cursor from the last kept row."""
    if len(rows) <= params.limit:
        return rows, None
    kept = rows[: params.limit]
    created, row_id = key(kept[-1])
    return kept, params.format.encode_keyset(created, row_id)
