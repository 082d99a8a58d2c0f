"""Optimistic concurrency: strong ETags and If-Match (R-FLOW-3, RFC 9110 §13.1.1)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Header
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from app.core.errors import (
    AppError,
    PreconditionFailed,
    PreconditionRequired,
    ProblemItem,
)

# One entity-tag as the server writes them (strong; a weak one parses but never matches).
_TAG = r'(?:W/)?"v[0-9]{1,10}"'
# The header's whole value: one tag or a comma-separated list (RFC 9110 §13.1.1). `*` is not in
# it: R-FLOW-3 wants the ETag that was read, and "any version" proves no read (428).
IF_MATCH_PATTERN = rf"^{_TAG}(?: *, *{_TAG})*$"
_TAG_LIST = re.compile(IF_MATCH_PATTERN)

IF_MATCH_DESCRIPTION = (
    'Obligatoire : l\'ETag lu sur la ressource (ex. `"v3"`) — R-FLOW-3. Absent ou `*` : 428 ; '
    "ne désigne pas la version actuelle (ou faible, `W/`) : 412 ; mal formé (guillemets "
    "absents, ex. `v3`) : 400 « ETag mal formé », qui donne l'ETag attendu."
)

# Optional for FastAPI, so that a missing header reaches `check_if_match` (428, not FastAPI's
# 422); the contract marks it required (app.contract.openapi) and states the pattern.
IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=100,
        description=IF_MATCH_DESCRIPTION,
        json_schema_extra={"pattern": IF_MATCH_PATTERN},
    ),
]


# OpenAPI description of the ETag response header, for `responses={200: {"headers": ETAG}}`.
ETAG = {"ETag": {"description": "Version, à renvoyer en If-Match.", "schema": {"type": "string"}}}


class MalformedETag(AppError):
    """400: the If-Match value is no entity-tag (an unquoted `v2`, a typo). Not 412: nothing says
    the version is stale, the client wrote the header wrong (issue 12)."""

    status = 400
    slug = "malformed-etag"
    title = "ETag mal formé"


def etag_for(version: int) -> str:
    return f'"v{version}"'


def _if_match_item(what: str) -> ProblemItem:
    """The header in cause of a 428, named as the 400 of a malformed ETag names it (the
    current ETag is not given: R-FLOW-3 wants the one the client read)."""
    return ProblemItem(
        code="R-FLOW-3",
        message=f"{what} : renvoyez l'ETag lu sur la ressource (en-tête ETag de sa lecture, "
        'par ex. "v3").',
        field="If-Match",
        location="header",
    )


def check_if_match(if_match: str | None, version: int) -> None:
    """R-FLOW-3: missing If-Match (or `*`) answers 428, a malformed one 400, a stale or weak
    one 412."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            code="R-FLOW-3",
            errors=[_if_match_item("En-tête If-Match manquant")],
        )
    candidates = [tag.strip() for tag in if_match.split(",")]
    if "*" in candidates:
        raise PreconditionRequired(
            "If-Match: * ne prouve aucune lecture : renvoyez l'ETag lu sur la ressource.",
            code="R-FLOW-3",
            errors=[_if_match_item("If-Match: * ne prouve aucune lecture")],
        )
    if not _TAG_LIST.fullmatch(if_match):  # exactly the contract's pattern
        expected = etag_for(version)
        raise MalformedETag(
            f"ETag mal formé : attendu {expected} (l'ETag lu sur la ressource, guillemets "
            "compris).",
            code="R-FLOW-3",
            errors=[
                ProblemItem(
                    code="R-FLOW-3",
                    message=f"Un ETag entre guillemets est attendu, par ex. {expected}.",
                    field="If-Match",
                    location="header",
                )
            ],
            current_etag=expected,
        )
    if etag_for(version) not in candidates:  # weak tags (W/"…") never match: strong comparison
        raise PreconditionFailed(code="R-FLOW-3", current_etag=etag_for(version))


async def flush_versioned(session: AsyncSession) -> None:
    """Flush an update guarded by the version column: a concurrent writer means 412."""
    try:
        await session.flush()
    except StaleDataError as exc:
        raise PreconditionFailed(code="R-FLOW-3") from exc
