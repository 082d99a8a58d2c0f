"""Filing and editing a dossier: a draft created under its programme, then edited while a draft.

R-PROG-1, R-PROG-2 (the programme and its terms), R-ELIG-1 (the candidate's kind), R-FLOW-3
(drafts only are edited, If-Match required), R-AUDIT-1 (each write audited).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.audit import service as audit
from app.auth.principal import Principal
from app.candidates.models import Candidate
from app.core.concurrency import check_if_match, flush_versioned
from app.core.rules import raise_failures
from app.core.types import utcnow
from app.programme.dependencies import programme_in_body
from app.programme.errors import ProgrammeNotOpen
from app.programme.models import Programme
from app.programme.rules import programme_open_problems
from app.projects import hooks, terms
from app.projects.actions import actions_now
from app.projects.errors import (
    CandidateNotRegistered,
    ProjectNotEditable,
)
from app.projects.lifecycle_rules import (
    STATUS_LABELS_FR,
    Action,
    ProjectAction,
    Status,
    state_allows,
)
from app.projects.models import ExpenseLine, FundingLine, Project
from app.projects.reads import get_project
from app.projects.schemas import ExpenseLineIn, FundingLineIn, ProjectCreate, ProjectUpdate
from app.projects.transitions import stamp


def expense_line_rows(lines: list[ExpenseLineIn]) -> list[ExpenseLine]:
    return [
        ExpenseLine(  # type: ignore[call-arg]  # project_id: set by the relationship
            position=i,
            category=line.category,
            label=line.label,
            amount_cents=line.amount_cents,
            vendor_origin=line.vendor_origin.value if line.vendor_origin else None,
            provider_departement=line.provider_departement,
        )
        for i, line in enumerate(lines)
    ]


def funding_line_rows(lines: list[FundingLineIn]) -> list[FundingLine]:
    return [
        FundingLine(  # type: ignore[call-arg]  # project_id: set by the relationship
            position=i, funder=line.funder, amount_cents=line.amount_cents
        )
        for i, line in enumerate(lines)
    ]


def audit_view(project: Project) -> dict[str, Any]:
    """R-AUDIT-1: what the audit trail records of a dossier (its lines included)."""
    return {
        **audit.snapshot(project, exclude=("submitted_at", "created_by")),
        "expense_lines": [
            audit.snapshot(line, ("category", "label", "amount_cents", "vendor_origin"))
            for line in project.expense_lines
        ],
        "other_funding": [
            audit.snapshot(line, ("funder", "amount_cents")) for line in project.funding_lines
        ],
    }


async def filing_programme(session: AsyncSession, code: str | None, default: str) -> Programme:
    """The programme a new dossier is filed under: the one its body names (`programme`), else
    the service's default. R-PROG-2: a code the service does not know is refused (422 on
    `/programme`); R-PROG-1: the programme must be published (a draft or a closed one: 422)."""
    programme = await programme_in_body(session, code, default)
    raise_failures(
        programme_open_problems(programme.status, code=programme.code, field="/programme"),
        error=ProgrammeNotOpen,
    )
    return programme


async def create_project(
    session: AsyncSession, principal: Principal, *, default_programme: str, data: ProjectCreate
) -> Project:
    """A candidate files a draft for its own registered organisation, under the programme its
    body names or the default one (`filing_programme`).

    Raises CandidateNotRegistered (409) when its SIREN has no candidate yet.
    """
    programme = await filing_programme(session, data.programme, default_programme)
    candidate = (
        await session.execute(select(Candidate).where(Candidate.siren == principal.siren))
    ).scalar_one_or_none()
    if candidate is None:
        raise CandidateNotRegistered()
    return await create_for_candidate(
        session, principal, candidate=candidate, programme=programme, data=data
    )


async def create_for_candidate(
    session: AsyncSession,
    principal: Principal,
    *,
    candidate: Candidate,
    programme: Programme,
    data: ProjectCreate,
    ds_dossier_number: int | None = None,
    ds_dossier_id: str | None = None,
) -> Project:
    """File a draft for this registered candidate under `programme` (its own agent, or an
    import from démarches-simplifiées that keeps the DS dossier's number and id).

    R-ELIG-1 (the candidate's kind is one the programme funds) and R-PROG-1 (its strand and
    its lines' categories are the programme's) are checked first (422 listing each)."""
    terms.check_written(
        programme,
        strand=data.strand,
        line_categories=[line.category for line in data.expense_lines],
        kind=candidate.kind,
    )
    expense_lines = expense_line_rows(data.expense_lines)
    project = Project(
        candidate_id=candidate.id,
        programme_id=programme.id,
        departement=candidate.departement,
        strand=data.strand,
        title=data.title,
        description=data.description,
        objectives=data.objectives,
        nature=data.nature.value if data.nature else None,
        start_on=data.start_on,
        end_on=data.end_on,
        sponsor_name=data.sponsor.name if data.sponsor else None,
        sponsor_role=data.sponsor.role if data.sponsor else None,
        team=[m.model_dump() for m in data.team],
        agents_impacted=data.agents_impacted,
        users_impacted=data.users_impacted,
        replicability=data.replicability,
        open_source=data.open_source,
        requested_cents=data.requested_cents,
        total_cost_cents=sum(line.amount_cents for line in expense_lines),
        status=Status.DRAFT.value,
        created_by=principal.subject,
        ds_dossier_number=ds_dossier_number,
        ds_dossier_id=ds_dossier_id,
        expense_lines=expense_lines,
        funding_lines=funding_line_rows(data.other_funding),
    )
    session.add(project)
    await session.flush()
    session.add(stamp(project, principal, Action.CREATE, None))
    await session.flush()
    await audit.record(  # R-AUDIT-1
        session,
        principal,
        object_type="project",
        object_id=project.id,
        departement=project.departement,
        action="created",
        after=audit_view(project),
    )
    return project


async def _ensure_draft(session: AsyncSession, project: Project, principal: Principal) -> None:
    # R-FLOW-3: drafts only (a returned dossier is a draft again).
    if not state_allows(Status(project.status), ProjectAction.EDIT):
        raise ProjectNotEditable(
            f"Le dossier est « {STATUS_LABELS_FR[Status(project.status)]} » : seuls les "
            "brouillons sont modifiables (R-FLOW-3).",
            code="R-FLOW-3",
            status_current=project.status,
            allowed_actions=[a.value for a in await actions_now(session, principal, project)],
        )


async def update_project(
    session: AsyncSession,
    principal: Principal,
    *,
    project_id: uuid.UUID,
    if_match: str | None,
    data: ProjectUpdate,
) -> Project:
    """The candidate edits its draft (R-FLOW-3: drafts only, If-Match required).

    Raises ProjectNotFound (404), 428/412 (If-Match), ProjectNotEditable (409).
    """
    project = await get_project(session, principal, project_id=project_id)
    check_if_match(if_match, project.version)
    return await apply_update(session, principal, project=project, data=data)


async def apply_update(
    session: AsyncSession, principal: Principal, *, project: Project, data: ProjectUpdate
) -> Project:
    """Write `data` to a loaded draft (R-FLOW-3: drafts only) and audit it; the caller checked
    scope and concurrency (If-Match, or a re-read of the DS dossier inside its transaction)."""
    await _ensure_draft(session, project, principal)
    changes = data.model_dump(exclude_unset=True)
    if "strand" in changes or data.expense_lines is not None:  # R-PROG-1 (422)
        terms.check_written(
            await session.get_one(Programme, project.programme_id),
            strand=data.strand if "strand" in changes else None,
            line_categories=(
                None
                if data.expense_lines is None
                else [line.category for line in data.expense_lines]
            ),
        )
    before = audit_view(project)
    former_strand = project.strand
    for name in (
        "strand",
        "title",
        "description",
        "objectives",
        "start_on",
        "end_on",
        "agents_impacted",
        "users_impacted",
        "replicability",
        "open_source",
        "requested_cents",
    ):
        if name in changes:
            setattr(project, name, getattr(data, name))
    if "nature" in changes:
        project.nature = data.nature.value if data.nature else None
    if "sponsor" in changes:
        project.sponsor_name = data.sponsor.name if data.sponsor else None
        project.sponsor_role = data.sponsor.role if data.sponsor else None
    if data.team is not None:
        project.team = [m.model_dump() for m in data.team]
    if data.expense_lines is not None:
        project.expense_lines = expense_line_rows(data.expense_lines)
        project.total_cost_cents = sum(line.amount_cents for line in project.expense_lines)
    if data.other_funding is not None:
        project.funding_lines = funding_line_rows(data.other_funding)
    project.updated_at = utcnow()
    await flush_versioned(session)
    await audit.record(  # R-AUDIT-1
        session,
        principal,
        object_type="project",
        object_id=project.id,
        departement=project.departement,
        action="updated",
        before=before,
        after=audit_view(project),
    )
    if project.strand != former_strand:
        await hooks.strand_changed(session, principal, project)  # e.g. R-EVAL-5
    return project
