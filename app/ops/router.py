"""GET /healthz, GET /readyz."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.core.db import SessionDep
from app.core.errors import ServiceUnavailable, problems
from app.core.migrations import head_revisions

router = APIRouter(tags=["ops"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    database: Literal["ok"]
    revision: str = Field(max_length=64, description="Révision Alembic de la base.")


@router.get("/healthz", response_model=Health)
async def read_health() -> Health:
    """Le processus répond (sans toucher la base)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses=problems(503))
async def read_readiness(session: SessionDep) -> Readiness:
    """La base répond et ses migrations sont à la dernière révision ; 503 sinon."""
    try:
        rows = (await session.execute(text("SELECT version_num FROM alembic_version"))).all()
    except SQLAlchemyError as exc:
        raise ServiceUnavailable("Base de données injoignable ou non migrée.") from exc
    current = {r[0] for r in rows}
    if current != head_revisions():
        raise ServiceUnavailable(
            "La base n'est pas à la dernière migration : lancez `alembic upgrade head`.",
            code="migrations-pending",
        )
    return Readiness(status="ready", database="ok", revision=",".join(sorted(current)))
