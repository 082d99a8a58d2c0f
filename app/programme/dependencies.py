"""The programme a request names, as a dependency (R-PROG-2).

Every route that belongs to one programme takes the optional query parameter `programme` (its
code); a request that names none gets the service's default programme (the deployment setting
`programme_code`), so that clients written before several programmes ran keep working. An
unknown code is a 404 (R-PROG-2). Routes that read across programmes (dashboards, the SCDL
export) also accept `programme=*` (`ProgrammeScope`: None for every programme).

Issue 13: served from the per-process cache (app/programme/cache.py), revalidated by its version
with one cheap statement. Reads that need only its id (envelopes, ledger, dossier lists) use
`ProgrammeRef`, which costs no statement once the id is known (a programme's id never changes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import bearer_scheme, get_principal
from app.auth.principal import Principal
from app.core.db import SessionDep
from app.core.errors import ProblemItem
from app.core.rawsql import ReadConnection
from app.programme import cache
from app.programme.cache import ProgrammeKey
from app.programme.errors import ProgrammeNotSeeded, UnknownProgramme, UnknownProgrammeInBody
from app.programme.models import Programme

ALL_PROGRAMMES = "*"
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"
SCOPE_PATTERN = r"^(\*|[A-Za-z0-9][A-Za-z0-9_.-]{0,39})$"
_DESCRIPTION = (
    "Code du programme ; par défaut, le programme par défaut du service (`GET /programme`). "
    "Un code inconnu : 404 (R-PROG-2)."
)
ProgrammeQuery = Annotated[
    str | None, Query(alias="programme", pattern=CODE_PATTERN, description=_DESCRIPTION)
]
ProgrammeScopeQuery = Annotated[
    str | None,
    Query(
        alias="programme",
        pattern=SCOPE_PATTERN,
        description=_DESCRIPTION + " `*` : tous les programmes ensemble.",
    ),
]


def default_code(request: Request) -> str:
    """The service's default programme (setting `programme_code`)."""
    code: str = request.app.state.settings.programme_code
    return code


async def programme_named(session: AsyncSession, code: str | None, default: str) -> Programme:
    """The programme `code` names (the default one when None): a programme a client names and
    the service does not know is a 404 R-PROG-2; a missing default is a deployment fault
    (ProgrammeNotSeeded)."""
    if code is None:
        return await cache.programme_by_code(session, default)
    try:
        return await cache.programme_by_code(session, code)
    except ProgrammeNotSeeded:
        raise UnknownProgramme(code) from None


async def programme_in_body(session: AsyncSession, code: str | None, default: str) -> Programme:
    """The programme a request body names in its field `programme` (the default one when
    None): an unknown code is a 422 naming the field (R-PROG-2)."""
    try:
        return await programme_named(session, code, default)
    except UnknownProgramme as exc:
        raise UnknownProgrammeInBody(
            exc.detail,
            code="R-PROG-2",
            errors=[ProblemItem(code="R-PROG-2", message=exc.detail, field="/programme")],
        ) from None


async def requested_programme(
    request: Request, session: SessionDep, programme: ProgrammeQuery = None
) -> Programme:
    return await programme_named(session, programme, default_code(request))


ProgrammeParam = Annotated[Programme, Depends(requested_programme)]
"""The programme the request names (`?programme=`), the default one when it names none."""


async def current_programme(request: Request, session: SessionDep) -> Programme:
    """The service's default programme, for routes that name none (e.g. `/programme`)."""
    return await cache.programme_by_code(session, default_code(request))


CurrentProgramme = Annotated[Programme, Depends(current_programme)]


async def _ref(session: AsyncSession, code: str | None, default: str) -> ProgrammeKey:
    known = cache.programme_id_for(session, code or default)
    if known is None:
        known = (await programme_named(session, code, default)).id
    return ProgrammeKey(known, code or default)


async def programme_ref(
    request: Request, session: SessionDep, programme: ProgrammeQuery = None
) -> ProgrammeKey:
    return await _ref(session, programme, default_code(request))


ProgrammeRef = Annotated[ProgrammeKey, Depends(programme_ref)]


@dataclass(frozen=True, slots=True)
class ProgrammeName:
    """The programme a read names (`?programme=`, else the default one), its id resolved on the
    read's own connection by `key_on`."""

    code: str
    named: bool  # by the request (an unknown code is then a 404), not the default

    async def key_on(self, connection: ReadConnection) -> ProgrammeKey:
        """`programme_ref` on the lean read path (issue 28): the read's own pooled connection,
        no session; no statement once this process knows the code."""
        known = await cache.programme_id_on(connection, self.code)
        if known is None:
            if self.named:
                raise UnknownProgramme(self.code)  # R-PROG-2
            raise ProgrammeNotSeeded()
        return ProgrammeKey(known, self.code)


async def read_programme_name(request: Request, programme: ProgrammeQuery = None) -> ProgrammeName:
    return ProgrammeName(programme or default_code(request), named=programme is not None)


# Issue 28: the route resolves the id on its read connection (`key_on`). A dependency that took
# the connection itself made FastAPI solve the connection's own dependencies a second time
# (it walks a cached dependency's sub-dependencies before its cache) on every read.
ReadProgramme = Annotated[ProgrammeName, Depends(read_programme_name)]
"""`ProgrammeRef` for the routes on a read connection: `await programme.key_on(connection)`."""


async def optional_principal(request: Request) -> Principal | None:
    """The caller when a bearer token is sent (verified: a bad one is a 401), else None: a
    public read, which shows published and closed programmes only. The token is read here, not
    declared: the contract states these reads as public, a token only adds the drafts (DINUM)."""
    credentials = await bearer_scheme(request)
    if credentials is None or not credentials.credentials:
        return None
    return await get_principal(request, credentials)


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


"""`ProgrammeParam` by id and code only: no statement once this process knows the code."""


async def programme_scope(
    request: Request, session: SessionDep, programme: ProgrammeScopeQuery = None
) -> Programme | None:
    if programme == ALL_PROGRAMMES:
        return None
    return await programme_named(session, programme, default_code(request))


ProgrammeScope = Annotated[Programme | None, Depends(programme_scope)]
"""`ProgrammeParam`, or None for `programme=*` (every programme: dashboards, open data)."""


async def programme_ref_scope(
    request: Request, session: SessionDep, programme: ProgrammeScopeQuery = None
) -> ProgrammeKey | None:
    if programme == ALL_PROGRAMMES:
        return None
    return await _ref(session, programme, default_code(request))


ProgrammeRefScope = Annotated[ProgrammeKey | None, Depends(programme_ref_scope)]
"""`ProgrammeRef`, or None for `programme=*`."""
