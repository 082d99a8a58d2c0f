"""R-DOC-1: what a dossier's step still lacks, read from its programme and its documents.

Registered with the projects' hooks (`on_requirements`) at import: submission, the convention
and the final report (lower domains, which may not import this one) call it and list its
failures with every other failed rule (R-FLOW-2).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Uuid,
    and_,
    bindparam,
    func,
    inspect,
    or_,
    select as sa_select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.candidates.models import Candidate
from app.core import rawsql
from app.core.rawsql import ReadConnection
from app.core.rules import RuleFailure
from app.documents.models import Document
from app.documents.rules import Held, Line, ScanStatus, missing_documents
from app.programme import cache as programme_cache
from app.programme.models import Programme
from app.programme.rules import Owner, Requirement, Step, requirements
from app.projects import hooks
from app.projects.models import ExpenseLine, Project
from app.projects.reads import Dossier


async def programme_requirements(session: AsyncSession, programme_id: object) -> list[Requirement]:
    """The programme's required documents (R-DOC-1), parsed."""
    programme = await session.get_one(Programme, programme_id)
    return requirements(programme.required_documents)


async def lines_of(db: AsyncSession | ReadConnection, project: Dossier) -> list[Line]:
    """The dossier's expense lines, in their order (a per-line kind names them)."""
    rows = await db.execute(
        select(ExpenseLine.id, ExpenseLine.label, ExpenseLine.amount_cents)
        .where(col(ExpenseLine.project_id) == project.id)
        .order_by(col(ExpenseLine.position))
    )
    return [Line(id=i, label=label, amount_cents=amount) for i, label, amount in rows.all()]


# Issue 28: the check's statement, built once (its cache key was computed per call: a third
# of the check's cost on a submission), the dossier, its programme and its candidate bound.
_PROGRAMME = Programme.__table__  # type: ignore[attr-defined]
_CANDIDATE = Candidate.__table__  # type: ignore[attr-defined]
_DOCUMENT = Document.__table__  # type: ignore[attr-defined]
_DOCUMENTS = (
    sa_select(
        _PROGRAMME.c.version,
        _CANDIDATE.c.kind,
        _DOCUMENT.c.kind,
        _DOCUMENT.c.project_id,
        _DOCUMENT.c.expense_line_id,
        _DOCUMENT.c.scan_status,
    )
    .select_from(_CANDIDATE)
    .join(_PROGRAMME, _PROGRAMME.c.id == bindparam("programme_id", type_=Uuid()))
    .outerjoin(
        _DOCUMENT,
        and_(
            or_(
                _DOCUMENT.c.project_id == bindparam("project_id", type_=Uuid()),
                _DOCUMENT.c.candidate_id == _CANDIDATE.c.id,
            ),
            _DOCUMENT.c.superseded_at.is_(None),
        ),
    )
    .where(_CANDIDATE.c.id == bindparam("candidate_id", type_=Uuid()))
    .order_by(_DOCUMENT.c.created_at, _DOCUMENT.c.id)
)

# The required documents parsed, by programme: kept while the programme's cached object keeps
# the same list (a programme loaded again, at a new version or not, is parsed again).
_parsed: dict[Any, tuple[object, list[Requirement]]] = {}


def parsed_requirements(programme: Programme) -> list[Requirement]:
    """`requirements(programme.required_documents)`, parsed once per loaded programme."""
    source = programme.required_documents
    hit = _parsed.get(programme.id)
    if hit is not None and hit[0] is source:
        return hit[1]
    found = requirements(source)
    _parsed[programme.id] = (source, found)
    return found


# Issue 28: the same facts as one column beside a dossier's row (`FROM project`), for a write
# that reads its dossier in one statement (a submission): [programme version, candidate kind,
# [[kind, project_id, expense_line_id, scan_status], …] in the order of `_DOCUMENTS`].
FACTS = "documents_facts"


@hooks.on_requirement_facts(FACTS)
def _facts_column(dialect: str) -> ColumnElement[Any]:
    project = Project.__table__  # type: ignore[attr-defined]
    current = and_(
        or_(
            _DOCUMENT.c.project_id == project.c.id,
            _DOCUMENT.c.candidate_id == project.c.candidate_id,
        ),
        _DOCUMENT.c.superseded_at.is_(None),
    )
    fields = (
        _DOCUMENT.c.kind,
        _DOCUMENT.c.project_id,
        _DOCUMENT.c.expense_line_id,
        _DOCUMENT.c.scan_status,
    )
    if dialect == "postgresql":
        held: ColumnElement[Any] = (
            sa_select(
                func.json_agg(
                    aggregate_order_by(
                        func.json_build_array(*fields), _DOCUMENT.c.created_at, _DOCUMENT.c.id
                    )
                )
            )
            .where(current)
            .correlate(project)
            .scalar_subquery()
        )
        facts = func.json_build_array(_PROGRAMME.c.version, _CANDIDATE.c.kind, held)
    else:
        # SQLite (no ORDER BY inside an aggregate): its ordered subquery's rows, in order.
        ordered = (
            sa_select(*fields)
            .where(current)
            .order_by(_DOCUMENT.c.created_at, _DOCUMENT.c.id)
            .correlate(project)
            .subquery()
        )
        held = (
            sa_select(func.json_group_array(func.json_array(*ordered.c)))
            .select_from(ordered)
            .scalar_subquery()
        )
        facts = func.json_array(_PROGRAMME.c.version, _CANDIDATE.c.kind, func.json(held))
    found = (
        sa_select(facts)
        .where(
            _CANDIDATE.c.id == project.c.candidate_id,
            _PROGRAMME.c.id == project.c.programme_id,
        )
        .correlate(project)
    )
    return type_coerce(found.scalar_subquery(), JSON)


def _uuid(value: Any) -> uuid.UUID | None:
    """An id read from JSON (text) as the UUID the lines hold."""
    return None if value is None else uuid.UUID(str(value))


async def _documents(
    db: AsyncSession | ReadConnection, project: Dossier, facts: Mapping[Any, Any] | None
) -> tuple[int, str, list[tuple[Any, Any, Any, Any]]]:
    """The programme's version, the candidate's kind and the current documents (kind, owning
    dossier, expense line, scan status), from `facts` when it holds them, else one statement."""
    if facts is not None and FACTS in facts:
        version, candidate_kind, found = facts[FACTS]
        held = [(k, p, _uuid(line), status) for k, p, line, status in found or ()]
        return version, candidate_kind, held
    params = {
        "programme_id": project.programme_id,
        "project_id": project.id,
        "candidate_id": project.candidate_id,
    }
    connection = await db.connection() if isinstance(db, AsyncSession) else db
    rows: Sequence[Any] = await rawsql.fetch(connection, _DOCUMENTS, params)  # app/core/rawsql.py
    return rows[0][0], rows[0][1], [tuple(row[2:]) for row in rows if row[2] is not None]


@hooks.on_requirements
async def step_failures(
    db: AsyncSession | ReadConnection,
    project: Dossier,
    step: Step,
    production: bool,
    facts: Mapping[Any, Any] | None = None,
) -> list[RuleFailure]:
    """R-DOC-1: each document `step` requires of this dossier that is missing, pending or
    infected. One statement reads the programme's version (its terms come from the cache),
    the candidate's kind and the current documents, unless `facts` (the row of a statement
    that selected `_facts_column` beside the dossier) holds them; the lines are the dossier's
    own when loaded (else one more statement, when a kind is per line). `db`: a write's
    session or a read's connection (issue 28); `production`: an unscanned document is judged
    strictly."""
    version, candidate_kind, documents = await _documents(db, project, facts)
    if isinstance(db, AsyncSession):
        programme = await programme_cache.programme_at(db, project.programme_id, version)
    else:
        programme = await programme_cache.programme_at_on(db, project.programme_id, version)
    required = [
        r
        for r in parsed_requirements(programme)
        if r.step is step and r.applies(strand=project.strand, candidate_kind=candidate_kind)
    ]
    if not required:
        return []
    held = [
        Held(
            kind=kind,
            owner=Owner.PROJECT if project_id is not None else Owner.CANDIDATE,
            expense_line_id=line_id,
            scan_status=ScanStatus(status),
        )
        for kind, project_id, line_id, status in documents
    ]
    lines: list[Line] = []
    if any(r.per_line for r in required):
        if isinstance(project, Project) and "expense_lines" in inspect(project).unloaded:
            lines = await lines_of(db, project)
        else:
            lines = [
                Line(id=line.id, label=line.label, amount_cents=line.amount_cents)
                for line in project.expense_lines
            ]
    return missing_documents(
        required,
        step=step,
        strand=project.strand,
        candidate_kind=candidate_kind,
        lines=lines,
        held=held,
        production=production,
    )


async def candidate_requirements(session: AsyncSession) -> list[Requirement]:
    """R-DOC-1: the kinds filed on a candidate, as the open programmes ask for them (the first
    programme to name a code gives its terms)."""
    found: dict[str, Requirement] = {}
    for data in (await session.execute(select(Programme.required_documents))).scalars():
        for requirement in requirements(data):
            if requirement.owner is Owner.CANDIDATE:
                found.setdefault(requirement.code, requirement)
    return list(found.values())
