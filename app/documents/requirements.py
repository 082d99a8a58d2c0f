"""R-DOC-1: what a dossier's step still lacks, read from its programme and its documents.

Registered with the projects' hooks (`on_requirements`) at import: submission, the convention
and the final report (lower domains, which may not import this one) call it and list its
failures with every other failed rule (R-FLOW-2).
"""

from __future__ import annotations

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.candidates.models import Candidate
from app.core.db import PRODUCTION
from app.core.rules import RuleFailure
from app.documents.models import Document
from app.documents.rules import Held, Line, ScanStatus, missing_documents
from app.programme.models import Programme
from app.programme.rules import Owner, Requirement, Step, requirements
from app.projects import hooks
from app.projects.models import ExpenseLine, Project


async def programme_requirements(session: AsyncSession, programme_id: object) -> list[Requirement]:
    """The programme's required documents (R-DOC-1), parsed."""
    programme = await session.get_one(Programme, programme_id)
    return requirements(programme.required_documents)


async def lines_of(session: AsyncSession, project: Project) -> list[Line]:
    """The dossier's expense lines, in their order (a per-line kind names them)."""
    rows = await session.execute(
        select(ExpenseLine.id, ExpenseLine.label, ExpenseLine.amount_cents)
        .where(col(ExpenseLine.project_id) == project.id)
        .order_by(col(ExpenseLine.position))
    )
    return [Line(id=i, label=label, amount_cents=amount) for i, label, amount in rows.all()]


@hooks.on_requirements
async def step_failures(session: AsyncSession, project: Project, step: Step) -> list[RuleFailure]:
    """R-DOC-1: each document `step` requires of this dossier that is missing, pending or
    infected (one statement for the documents, one for the lines when a kind is per line)."""
    required = [
        r for r in await programme_requirements(session, project.programme_id) if r.step is step
    ]
    if not required:
        return []
    candidate = await session.get_one(Candidate, project.candidate_id)
    required = [
        r for r in required if r.applies(strand=project.strand, candidate_kind=candidate.kind)
    ]
    if not required:
        return []
    rows = (
        await session.execute(
            select(
                Document.kind, Document.project_id, Document.expense_line_id, Document.scan_status
            )
            .where(
                or_(
                    col(Document.project_id) == project.id,
                    col(Document.candidate_id) == candidate.id,
                ),
                col(Document.superseded_at).is_(None),
            )
            .order_by(col(Document.created_at), col(Document.id))
        )
    ).all()
    held = [
        Held(
            kind=kind,
            owner=Owner.PROJECT if project_id is not None else Owner.CANDIDATE,
            expense_line_id=line_id,
            scan_status=ScanStatus(status),
        )
        for kind, project_id, line_id, status in rows
    ]
    lines = await lines_of(session, project) if any(r.per_line for r in required) else []
    return missing_documents(
        required,
        step=step,
        strand=project.strand,
        candidate_kind=candidate.kind,
        lines=lines,
        held=held,
        # A session that does not say (a worker's) is judged as production's: strictly.
        production=session.info.get(PRODUCTION, True),
    )
