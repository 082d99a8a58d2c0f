"""Cursor (keyset) pagination: no OFFSET, stable under concurrent inserts."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, and_, or_

from app.core.errors import UnprocessableEntity

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class InvalidCursor(UnprocessableEntity):
    slug = "invalid-cursor"
    title = "Curseur invalide"
    default_detail = "Le curseur de pagination est invalide : repartez de la première page."


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None


def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Taille de page (50 par défaut, 200 au plus).")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$", description="`next_cursor` reçu."),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]


T = TypeVar("T")
R = TypeVar("R")
# Any SELECT, whatever its columns: keyset_page hands back the statement type it was given.
SelectT = TypeVar("SelectT", bound="Select[*tuple[Any, ...]]")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None, max_length=200, description="À repasser en `cursor` ; absent en fin de liste."
    )


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, row_id = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(created), uuid.UUID(row_id)
    except (ValueError, TypeError) as exc:
        raise InvalidCursor() from exc


def keyset_page(stmt: SelectT, created_col: Any, id_col: Any, params: PageParams) -> SelectT:
    """Order by (created_at, id), start after the cursor, fetch one extra row to detect more."""
    if params.cursor:
        created, row_id = decode_cursor(params.cursor)
        after: ColumnElement[bool] = or_(
            created_col > created, and_(created_col == created, id_col > row_id)
        )
        stmt = stmt.where(after)
    return stmt.order_by(created_col, id_col).limit(params.limit + 1)


def split_page(rows: list[R], params: PageParams, key: Any) -> tuple[list[R], str | None]:
    """Cut the extra row and build the next cursor from the last kept row."""
    if len(rows) <= params.limit:
        return rows, None
    kept = rows[: params.limit]
    created, row_id = key(kept[-1])
    return kept, encode_cursor(created, row_id)


def encode_int_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(str(row_id).encode()).decode().rstrip("=")


def decode_int_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = int(base64.urlsafe_b64decode(padded).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor() from exc
    if value < 0:
        raise InvalidCursor()
    return value
