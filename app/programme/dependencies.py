"""The programme in force, as a dependency (the code comes from the deployment settings)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.core.db import SessionDep
from app.programme import service as programme_service
from app.programme.models import Programme


async def current_programme(request: Request, session: SessionDep) -> Programme:
    return await programme_service.get_programme(session, request.app.state.settings.programme_code)


CurrentProgramme = Annotated[Programme, Depends(current_programme)]
