"""R-DOC-1: what a dossier's step still lacks, read from its programme and its documents.

Registered with the projects' hooks (`on_requirements`) at import: submission, the convention
and the final report (lower domains, which may not import this one) call it and list its
failures with every other failed rule (R-FLOW-2).
"""

from __future__ import annotations

from sqlalchemy import and_, inspect, or_, select as sa_select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col, select

from app.candidates.models import Candidate
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


async def lines_of(db: AsyncSession | AsyncConnection, project: Dossier) -> list[Line]:
    """The dossier's expense lines, in their order (a per-line kind names them)."""
    rows = await db.execute(
        select(ExpenseLine.id, ExpenseLine.label, ExpenseLine.amount_cents)
        .where(col(ExpenseLine.project_id) == project.id)
        .order_by(col(ExpenseLine.position))
    )
    return [Line(id=i, label=label, amount_cents=amount) for i, label, amount in rows.all()]


@hooks.on_requirements
async def step_failures(
    db: AsyncSession | AsyncConnection, project: Dossier, step: Step, production: bool
) -> list[RuleFailure]:
    """R-DOC-1: each document `step` requires of this dossier that is missing, pending or
    infected. One statement reads the programme's version (its terms come from the cache),
    the candidate's kind and the current documents; the lines are the dossier's own when
    loaded (else one more statement, when a kind is per line). `db`: a write's session or a
    read's connection (issue 28); `production`: an unscanned document is judged strictly."""
    rows = (
        await db.execute(
            sa_select(
                col(Programme.version),
                col(Candidate.kind),
                col(Document.kind),
                col(Document.project_id),
                col(Document.expense_line_id),
                col(Document.scan_status),
            )
            .select_from(Candidate)
            .join(Programme, col(Programme.id) == project.programme_id)
            .outerjoin(
                Document,
                and_(
                    or_(
                        col(Document.project_id) == project.id,
                        col(Document.candidate_id) == col(Candidate.id),
                    ),
                    col(Document.superseded_at).is_(None),
                ),
            )
            .where(col(Candidate.id) == project.candidate_id)
            .order_by(col(Document.created_at), col(Document.id))
        )
    ).all()
    version, candidate_kind = rows[0][0], rows[0][1]
    if isinstance(db, AsyncSession):
        programme = await programme_cache.programme_at(db, project.programme_id, version)
    else:
        programme = await programme_cache.programme_at_on(db, project.programme_id, version)
    required = [
        r
        for r in requirements(programme.required_documents)
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
        for _, _, kind, project_id, line_id, status in rows
        if kind is not None
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
