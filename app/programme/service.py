"""Use cases of the programme."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.audit import service as audit
from app.auth.principal import Principal
from app.core.concurrency import check_if_match, flush_versioned
from app.core.db import add_unique
from app.core.errors import PreconditionFailed, ProblemItem
from app.core.types import utcnow
from app.programme.errors import InvalidProgramme, ProgrammeNotSeeded
from app.programme.models import (
    DepartementForfaits,
    Programme,
    ProgrammeStatus,
    ProgrammeVersion,
    ScoringGrid,
)
from app.programme.rules import grid_snapshot, uncovered_kinds
from app.programme.schemas import ProgrammeDocument
from app.programme.seed import PROGRAMME_DEFAULTS
from app.programme.seed_nt2026 import NT2026

DOCUMENT_FIELDS = tuple(ProgrammeDocument.model_fields)
DATE_FIELDS = ("window_opens_on", "window_closes_on", "results_deadline")


def document_of(programme: Programme) -> dict[str, Any]:
    """R-PROG-1: the programme's document as JSON (dates as ISO strings), as a version keeps it."""
    values = {name: getattr(programme, name) for name in DOCUMENT_FIELDS}
    for name in DATE_FIELDS:
        if isinstance(values[name], date):
            values[name] = values[name].isoformat()
    return values


async def get_programme(session: AsyncSession, code: str) -> Programme:
    """The programme by code; ProgrammeNotSeeded (404) when missing."""
    programme = (
        await session.execute(select(Programme).where(Programme.code == code))
    ).scalar_one_or_none()
    if programme is None:
        raise ProgrammeNotSeeded()
    return programme


# R-PROG-2: the calls of the seed data. The service starts with the first (its default
# programme); the second is opened by DINUM through the API (README, walk-through) or seeded by
# `python -m app seed --all` and by the tests.
SEEDED_PROGRAMMES: tuple[dict[str, Any], ...] = (PROGRAMME_DEFAULTS, NT2026)


async def seed_programme(
    session: AsyncSession, documents: tuple[dict[str, Any], ...] = (PROGRAMME_DEFAULTS,)
) -> bool:
    """Insert the seeded programmes that are absent; safe when several instances race.
    True when one was added."""
    added = False
    for document in documents:
        added = await _seed_one(session, document) or added
    return added


async def _seed_one(session: AsyncSession, document: dict[str, Any]) -> bool:
    existing = (
        await session.execute(select(Programme.id).where(Programme.code == document["code"]))
    ).scalar_one_or_none()
    if existing is not None:
        return False
    try:
        async with session.begin_nested():
            programme = Programme(**copy.deepcopy(document))
            session.add(programme)
            await session.flush()
            await sync_grids(session, programme, actor="seed")  # R-EVAL-1: version 1
            if programme.status == ProgrammeStatus.PUBLISHED.value:  # R-PROG-2: its version
                session.add(
                    ProgrammeVersion(
                        programme_id=programme.id,
                        version=programme.version,
                        document=document_of(programme),
                        created_by="seed",
                    )
                )
                await session.flush()
    except IntegrityError:
        return False  # another instance seeded it first (UNIQUE on code)
    return True


async def current_grids(session: AsyncSession, programme_id: uuid.UUID) -> list[ScoringGrid]:
    """R-EVAL-1: the latest grid version of each strand, by strand code."""
    latest = (
        select(ScoringGrid.strand, func.max(ScoringGrid.version).label("version"))
        .where(ScoringGrid.programme_id == programme_id)
        .group_by(col(ScoringGrid.strand))
        .subquery()
    )
    stmt = (
        select(ScoringGrid)
        .join(
            latest,
            (col(ScoringGrid.strand) == latest.c.strand)
            & (col(ScoringGrid.version) == latest.c.version),
        )
        .where(ScoringGrid.programme_id == programme_id)
        .order_by(col(ScoringGrid.strand))
    )
    return list((await session.execute(stmt)).scalars().all())


async def current_grid(
    session: AsyncSession, programme_id: uuid.UUID, strand: str
) -> ScoringGrid | None:
    """R-EVAL-1: the grid in force for one strand (None before the programme is seeded)."""
    stmt = (
        select(ScoringGrid)
        .where(ScoringGrid.programme_id == programme_id, ScoringGrid.strand == strand)
        .order_by(col(ScoringGrid.version).desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def sync_grids(session: AsyncSession, programme: Programme, *, actor: str) -> None:
    """R-EVAL-1: add a grid version for each strand whose criteria or weights changed.

    Versions only grow; UNIQUE (programme, strand, version) refuses a concurrent duplicate.
    """
    latest = {grid.strand: grid for grid in await current_grids(session, programme.id)}
    for strand in programme.strands:
        snapshot = grid_snapshot(programme.general_criteria, strand["criteria"])
        grid = latest.get(strand["code"])
        if grid is not None and grid.criteria == snapshot:
            continue
        session.add(
            ScoringGrid(
                programme_id=programme.id,
                strand=strand["code"],
                version=grid.version + 1 if grid is not None else 1,
                criteria=snapshot,
                created_by=actor,
                created_at=utcnow(),
            )
        )
    await session.flush()


def check_forfaits_cover_every_kind(
    tiers: list[dict[str, Any]], field: str, eligible_kinds: list[str]
) -> None:
    """R-CAP-3: a schedule gives each kind the programme admits a forfait (422 naming the
    kinds left out)."""
    missing = uncovered_kinds(tiers, eligible_kinds)
    if missing:
        raise InvalidProgramme(
            "Le barème de forfaits doit couvrir chaque catégorie éligible, sans condition de "
            f"population ni de type d'EPCI pour au moins une ligne : manque {', '.join(missing)}.",
            code="R-CAP-3",
            errors=[
                ProblemItem(
                    code="R-CAP-3",
                    field=field,
                    message=f"Catégorie sans forfait : {kind}.",
                )
                for kind in missing
            ],
        )


@dataclass(frozen=True)
class ForfaitSchedule:
    """The schedule in force for a département, and where it comes from."""

    departement: str
    tiers: list[dict[str, Any]]
    source: str  # "programme" or "departement"
    version: int  # 0 while the département has none of its own


async def forfait_schedule(
    session: AsyncSession, programme: Programme, departement: str
) -> ForfaitSchedule:
    """R-CAP-3: the département's own schedule when its prefect set one, else the programme's."""
    own = (
        await session.execute(
            select(DepartementForfaits).where(
                DepartementForfaits.programme_id == programme.id,
                DepartementForfaits.departement == departement,
            )
        )
    ).scalar_one_or_none()
    if own is None:
        return ForfaitSchedule(departement, programme.forfaits, "programme", 0)
    return ForfaitSchedule(departement, own.tiers, "departement", own.version)


async def set_departement_forfaits(
    session: AsyncSession,
    principal: Principal,
    *,
    programme: Programme,
    departement: str,
    if_match: str | None,
    tiers: list[dict[str, Any]],
) -> ForfaitSchedule:
    """A prefect sets its département's schedule (R-CAP-3), If-Match required (`"v0"` first)."""
    own = (
        await session.execute(
            select(DepartementForfaits).where(
                DepartementForfaits.programme_id == programme.id,
                DepartementForfaits.departement == departement,
            )
        )
    ).scalar_one_or_none()
    check_if_match(if_match, own.version if own is not None else 0)
    check_forfaits_cover_every_kind(tiers, "/tiers", programme.eligible_kinds)
    before = None if own is None else audit.snapshot(own, ("tiers",))
    if own is None:
        own = DepartementForfaits(
            programme_id=programme.id,
            departement=departement,
            tiers=tiers,
            updated_by=principal.subject,
        )
        # another request created it first: our "v0" is stale
        await add_unique(session, own, PreconditionFailed(code="R-FLOW-3"))
    else:
        own.tiers = tiers
        own.updated_by = principal.subject
        own.updated_at = utcnow()
        await flush_versioned(session)
    await audit.record(  # R-AUDIT-1
        session,
        principal,
        object_type="forfaits",
        object_id=own.id,
        departement=departement,
        action="updated" if before is not None else "created",
        before=before,
        after={"tiers": own.tiers},
    )
    return ForfaitSchedule(departement, own.tiers, "departement", own.version)
