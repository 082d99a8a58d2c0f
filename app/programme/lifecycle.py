"""R-PROG-1: a programme's life as data: DINUM drafts it, edits the draft, publishes it, edits
it by new versions (R-PROG-2), closes it. Every change is audited (R-AUDIT-1)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.audit import service as audit
from app.auth.principal import Principal, Role
from app.core.concurrency import check_if_match, flush_versioned
from app.core.db import add_unique
from app.core.errors import PreconditionFailed, ProblemItem
from app.core.types import utcnow
from app.programme.errors import (
    InvalidProgramme,
    ProgrammeExists,
    ProgrammeStateConflict,
    UnknownProgramme,
)
from app.programme.models import Programme, ProgrammeStatus, ProgrammeVersion
from app.programme.rules import Problem, document_problems
from app.programme.schemas import ProgrammeDocument, ProgrammeUpdate
from app.programme.service import DATE_FIELDS, document_of, sync_grids

STATUS_LABELS = {
    ProgrammeStatus.DRAFT: "un brouillon",
    ProgrammeStatus.PUBLISHED: "publié",
    ProgrammeStatus.CLOSED: "clos",
}


def _refuse(problems: list[Problem], *, code: str | None = None) -> None:
    """422 listing every problem (field = JSON pointer, code = its rule). The answer's code is
    R-PROG-1, or `code` when given (None: the first problem's rule, as `PATCH /programme` did
    before the document was checked as one)."""
    if not problems:
        return
    raise InvalidProgramme(
        "Le programme est incohérent : chaque problème est listé dans `errors` (R-PROG-1).",
        code=code or problems[0][1],
        errors=[ProblemItem(code=rule, field=field, message=msg) for field, rule, msg in problems],
    )


def _status(programme: Programme) -> ProgrammeStatus:
    return ProgrammeStatus(programme.status)


def _wrong_state(programme: Programme, action: str) -> ProgrammeStateConflict:
    return ProgrammeStateConflict(
        f"Impossible de {action} le programme {programme.code} : il est "
        f"{STATUS_LABELS[_status(programme)]} ({programme.status}).",
        code="R-PROG-1",
        current_status=programme.status,
    )


async def find(session: AsyncSession, code: str) -> Programme | None:
    return (
        await session.execute(select(Programme).where(Programme.code == code))
    ).scalar_one_or_none()


def sees_drafts(principal: Principal | None) -> bool:
    return principal is not None and principal.role is Role.DINUM


async def visible_programme(
    session: AsyncSession, principal: Principal | None, code: str
) -> Programme:
    """The programme `code` as the caller may read it: a draft is DINUM's only (404 else)."""
    programme = await find(session, code)
    if programme is None or (
        _status(programme) is ProgrammeStatus.DRAFT and not sees_drafts(principal)
    ):
        raise UnknownProgramme(code)
    return programme


async def list_programmes(session: AsyncSession, principal: Principal | None) -> list[Programme]:
    """Published and closed programmes for everyone, drafts too for DINUM."""
    stmt = select(Programme).order_by(col(Programme.window_opens_on), col(Programme.code))
    if not sees_drafts(principal):
        stmt = stmt.where(Programme.status != ProgrammeStatus.DRAFT.value)
    return list((await session.execute(stmt)).scalars().all())


async def _record(
    session: AsyncSession,
    principal: Principal,
    programme: Programme,
    action: str,
    before: dict[str, Any] | None,
) -> None:
    await audit.record(  # R-AUDIT-1: a national object, read by DINUM only
        session,
        principal,
        object_type="programme",
        object_id=programme.id,
        departement=None,
        action=action,
        before=before,
        after=audit.snapshot(programme),
    )


async def _keep_version(session: AsyncSession, principal: Principal, programme: Programme) -> None:
    """R-PROG-2: the document of the version now in force, kept for good."""
    row = ProgrammeVersion(
        programme_id=programme.id,
        version=programme.version,
        document=document_of(programme),
        created_by=principal.subject,
        created_at=utcnow(),
    )
    await add_unique(session, row, PreconditionFailed(code="R-FLOW-3"))


async def create_programme(
    session: AsyncSession, principal: Principal, *, data: ProgrammeDocument
) -> Programme:
    """DINUM drafts a programme: the document is checked whole (422 R-PROG-1 listing every
    problem); its code is unique (409)."""
    document = data.model_dump(mode="json")
    _refuse(document_problems(document), code="R-PROG-1")
    if await find(session, data.code) is not None:
        raise ProgrammeExists()
    values = {**document, **{name: getattr(data, name) for name in DATE_FIELDS}}
    programme = Programme(**values, status=ProgrammeStatus.DRAFT.value)
    await add_unique(session, programme, ProgrammeExists())
    await _record(session, principal, programme, "created", None)
    return programme


async def update_programme(
    session: AsyncSession,
    principal: Principal,
    *,
    code: str,
    if_match: str | None,
    data: ProgrammeUpdate,
    answer_code: str | None = "R-PROG-1",
) -> Programme:
    """DINUM edits a programme (R-FLOW-3: If-Match). A draft takes any change; a published
    programme changes by a new version, its strands kept (R-PROG-2), its document stored; a
    closed one no more (409). The resulting document is checked whole (422, every problem).
    A changed criterion adds a grid version of a published programme's strands (R-EVAL-1).

    `answer_code`: the 422's code (None: the first problem's rule, `PATCH /programme`'s)."""
    programme = await find(session, code)
    if programme is None:
        raise UnknownProgramme(code)
    check_if_match(if_match, programme.version)
    status = _status(programme)
    if status is ProgrammeStatus.CLOSED:
        raise _wrong_state(programme, "modifier")
    changes = data.model_dump(exclude_unset=True, mode="json")
    merged = {**document_of(programme), **changes}
    problems: list[Problem] = []
    former = sorted(s["code"] for s in programme.strands)
    if status is ProgrammeStatus.PUBLISHED and sorted(s["code"] for s in merged["strands"]) != (
        former
    ):
        # R-PROG-2: dossiers, grids and envelopes name their strand: a programme in force keeps
        # its strands (their rules, titles and criteria may change).
        problems.append(
            (
                "/strands",
                "R-PROG-2",
                "Les volets d'un programme en vigueur ne changent pas : attendu "
                + ", ".join(former)
                + ".",
            )
        )
    _refuse(problems + document_problems(merged), code=answer_code)
    before = audit.snapshot(programme)
    for name, value in changes.items():
        setattr(programme, name, getattr(data, name) if name in DATE_FIELDS else value)
    programme.updated_at = utcnow()
    await flush_versioned(session)
    if status is ProgrammeStatus.PUBLISHED:
        if "general_criteria" in changes or "strands" in changes:
            try:
                async with session.begin_nested():
                    await sync_grids(session, programme, actor=principal.subject)
            except IntegrityError as exc:  # a concurrent edit added the same version first
                raise PreconditionFailed(code="R-FLOW-3") from exc
        await _keep_version(session, principal, programme)
    await _record(session, principal, programme, "updated", before)
    return programme


async def _move(
    session: AsyncSession,
    principal: Principal,
    *,
    code: str,
    if_match: str | None,
    source: ProgrammeStatus,
    target: ProgrammeStatus,
    action: str,
) -> Programme:
    programme = await find(session, code)
    if programme is None:
        raise UnknownProgramme(code)
    check_if_match(if_match, programme.version)
    if _status(programme) is not source:
        raise _wrong_state(programme, action)
    if target is ProgrammeStatus.PUBLISHED:  # checked again: nothing inconsistent goes live
        _refuse(document_problems(document_of(programme)), code="R-PROG-1")
    before = {"status": programme.status}
    programme.status = target.value
    programme.updated_at = utcnow()
    await flush_versioned(session)
    if target is ProgrammeStatus.PUBLISHED:
        await sync_grids(session, programme, actor=principal.subject)  # R-EVAL-1: version 1
        await _keep_version(session, principal, programme)
    await audit.record(  # R-AUDIT-1
        session,
        principal,
        object_type="programme",
        object_id=programme.id,
        departement=None,
        action="status_changed",
        before=before,
        after={"status": programme.status, "version": programme.version},
    )
    return programme


async def publish_programme(
    session: AsyncSession, principal: Principal, *, code: str, if_match: str | None
) -> Programme:
    """A draft goes live (409 otherwise): its document checked again, its grids created, its
    first published version kept."""
    return await _move(
        session,
        principal,
        code=code,
        if_match=if_match,
        source=ProgrammeStatus.DRAFT,
        target=ProgrammeStatus.PUBLISHED,
        action="publier",
    )


async def close_programme(
    session: AsyncSession, principal: Principal, *, code: str, if_match: str | None
) -> Programme:
    """A published programme closes (409 otherwise): readable, no new dossier nor submission."""
    return await _move(
        session,
        principal,
        code=code,
        if_match=if_match,
        source=ProgrammeStatus.PUBLISHED,
        target=ProgrammeStatus.CLOSED,
        action="clore",
    )


async def versions(
    session: AsyncSession, principal: Principal | None, *, code: str
) -> list[ProgrammeVersion]:
    """R-PROG-2: the published versions of a programme the caller may read, oldest first."""
    programme = await visible_programme(session, principal, code)
    stmt = (
        select(ProgrammeVersion)
        .where(ProgrammeVersion.programme_id == programme.id)
        .order_by(col(ProgrammeVersion.version))
    )
    return list((await session.execute(stmt)).scalars().all())
