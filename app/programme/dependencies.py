"""The programme in force, as a dependency (the code comes from the deployment settings).

Issue 13: served from the per-process cache (app/programme/cache.py), revalidated by its version
with one cheap statement. Reads that need only its id (envelopes, ledger) use `ProgrammeRef`,
which costs no statement once the id is known (a programme's id never changes).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.auth.dependencies import bearer_scheme, get_principal
from app.auth.principal import Principal
from app.core.db import SessionDep
from app.programme import cache
from app.programme.cache import ProgrammeKey
from app.programme.models import Programme


async def current_programme(request: Request, session: SessionDep) -> Programme:
    return await cache.programme_by_code(session, request.app.state.settings.programme_code)


CurrentProgramme = Annotated[Programme, Depends(current_programme)]


async def programme_ref(request: Request, session: SessionDep) -> ProgrammeKey:
    code = request.app.state.settings.programme_code
    known = cache.programme_id_for(session, code)
    if known is None:
        known = (await cache.programme_by_code(session, code)).id
    return ProgrammeKey(known)


ProgrammeRef = Annotated[ProgrammeKey, Depends(programme_ref)]


async def optional_principal(request: Request) -> Principal | None:
    """The caller when a bearer token is sent (verified: a bad one is a 401), else None: a
    public read, which shows published and closed programmes only. The token is read here, not
    declared: the contract states these reads as public, a token only adds the drafts (DINUM)."""
    credentials = await bearer_scheme(request)
    if credentials is None or not credentials.credentials:
        return None
    return await get_principal(request, credentials)


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
