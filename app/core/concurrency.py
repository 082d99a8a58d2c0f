"""Optimistic concurrency: strong ETags and If-Match (R-FLOW-3, RFC 9110 §13.1.1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from app.core.errors import PreconditionFailed, PreconditionRequired

IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=100,
        description="ETag lu sur la ressource (obligatoire pour toute modification).",
    ),
]


# OpenAPI description of the ETag response header, for `responses={200: {"headers": ETAG}}`.
ETAG = {"ETag": {"description": "Version, à renvoyer en If-Match.", "schema": {"type": "string"}}}


def etag_for(version: int) -> str:
    return f'"v{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """R-FLOW-3: missing If-Match answers 428, a stale or weak one 412."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(code="R-FLOW-3")
    candidates = [tag.strip() for tag in if_match.split(",")]
    if etag_for(version) not in candidates:  # weak tags (W/"…") never match: strong comparison
        raise PreconditionFailed(code="R-FLOW-3", current_etag=etag_for(version))


async def flush_versioned(session: AsyncSession) -> None:
    """Flush an update guarded by the version column: a concurrent writer means 412."""
    try:
        await session.flush()
    except StaleDataError as exc:
        raise PreconditionFailed(code="R-FLOW-3") from exc
