"""Use cases of projects (dossiers)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import Row, select as sa_select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select

from app.audit import service as audit
from app.auth.principal import Principal, Role
from app.candidates.models import Candidate
from app.core import clock
from app.core.concurrency import check_if_match, flush_versioned
from app.core.pagination import PageParams, split_page
from app.core.rules import RuleFailure, raise_failures
from app.core.types import utcnow
from app.programme import cache as programme_cache, service as programme_service
from app.programme.dependencies import programme_in_body
from app.programme.errors import ProgrammeNotOpen
from app.programme.models import Programme
from app.programme.rules import Step, programme_open_problems, select_forfait, strand_rules
from app.projects import guards, hooks, repository, terms
from app.projects.cost_rules import ExpenseLineFacts, VendorOrigin
from app.projects.display import ScoreSummary
from app.projects.eligibility_rules import EligibilityReport, Nature, ProjectFacts, assess
from app.projects.errors import (
    CandidateNotRegistered,
    InvalidTransition,
    ProjectIneligible,
    ProjectNotEditable,
    ProjectNotFound,
)
from app.projects.lifecycle_rules import (
    GUARDED,
    STATUS_LABELS_FR,
    Action,
    IllegalTransition,
    ProjectAction,
    Status,
    allowed_actions,
    next_status,
    state_allows,
)
from app.projects.models import ExpenseLine, FundingLine, Project, ProjectTransition
from app.projects.schemas import ExpenseLineIn, FundingLineIn, ProjectCreate, ProjectUpdate


@dataclass(frozen=True)
class ProjectFilters:
    programme_id: uuid.UUID | None = None  # R-PROG-2
    departement: str | None = None
    strand: str | None = None
    status: Status | None = None
    candidate_id: uuid.UUID | None = None
    submitted_from: datetime | None = None
    submitted_to: datetime | None = None
    updated_since: datetime | None = None


def today_in_france() -> date:
    return clock.today()


def _expense_lines(lines: list[ExpenseLineIn]) -> list[ExpenseLine]:
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


def _funding_lines(lines: list[FundingLineIn]) -> list[FundingLine]:
    return [
        FundingLine(  # type: ignore[call-arg]  # project_id: set by the relationship
            position=i, funder=line.funder, amount_cents=line.amount_cents
        )
        for i, line in enumerate(lines)
    ]


STATUS_CHANGED = "status_changed"
"""The audit action of every R-FLOW-1 transition (webhook event `project.status_changed`)."""


def _stamp(
    project: Project,
    principal: Principal,
    action: Action,
    before: Status | None,
    message: str | None = None,
) -> ProjectTransition:
    return ProjectTransition(
        project_id=project.id,
        action=action.value,
        from_status=before.value if before else None,
        to_status=project.status,
        actor_subject=principal.subject,
        actor_role=principal.role.value,
        message=message,
        at=utcnow(),
    )


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
    expense_lines = _expense_lines(data.expense_lines)
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
        funding_lines=_funding_lines(data.other_funding),
    )
    session.add(project)
    await session.flush()
    session.add(_stamp(project, principal, Action.CREATE, None))
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


async def get_project(
    session: AsyncSession, principal: Principal, *, project_id: uuid.UUID, with_lines: bool = True
) -> Project:
    """A dossier in the principal's scope, else ProjectNotFound (404, R-ACL-1)."""
    project = await repository.get_visible_project(
        session, principal, project_id, with_lines=with_lines
    )
    if project is None:
        raise ProjectNotFound()
    return project


@dataclass(frozen=True)
class ProjectView:
    """A dossier as read: its candidate's name, its programme and what the caller may do."""

    project: Project
    candidate_name: str
    programme: Programme
    allowed_actions: list[ProjectAction]
    candidate_kind: str


async def read_project(
    session: AsyncSession, principal: Principal, *, project_id: uuid.UUID
) -> ProjectView:
    """Issue 13: a dossier in scope with its lines, its candidate's name, the facts its guarded
    actions hang on (issue 12) and its programme (from the per-process cache, revalidated by the
    version read beside it): two statements."""
    row = await repository.read_visible_project(session, principal, project_id)
    if row is None:
        raise ProjectNotFound()
    project, name, programme_version = row[0], row[1], row[2]
    programme = await programme_cache.programme_at(session, project.programme_id, programme_version)
    advisors = terms.advisors(programme, project.strand)
    actions = actions_for(principal, project, guards.facts_of(row, principal), advisors)
    return ProjectView(project, str(name), programme, actions, str(row[3]))


async def list_projects(
    session: AsyncSession, principal: Principal, *, filters: ProjectFilters, page: PageParams
) -> tuple[list[Row[Any]], str | None]:
    """One page of dossiers in scope, with their candidate's name: a single statement of the
    summary's columns and the caller's facts (read by position: `summary_values`)."""
    given = {
        "programme_id": filters.programme_id,
        "departement": filters.departement,
        "strand": filters.strand,
        "status": None if filters.status is None else filters.status.value,
        "candidate_id": filters.candidate_id,
        "submitted_from": filters.submitted_from,
        "submitted_to": filters.submitted_to,
        "updated_since": filters.updated_since,
    }
    after = None if page.cursor is None else page.format.decode_keyset(page.cursor)
    rows = await repository.summary_page(
        session,
        principal,
        {name: value for name, value in given.items() if value is not None},
        after,
        page.limit,
    )
    return split_page(rows, page, lambda r: (r.created_at, r.id))


def actions_for(
    principal: Principal, project: Any, facts: Mapping[str, Any], advisors: frozenset[str]
) -> list[ProjectAction]:
    """What the caller may do now on this dossier (issue 12), by the rules that judge it: the
    lifecycle table (state, role), then the guards registered for the GUARDED actions
    (R-EVAL-2, R-EVAL-3, R-PAY-2), reading `facts` (`guards.fact_columns`, selected with the
    dossier) and who advises on its strand (`advisors`, the programme's, R-EVAL-3). `project`
    is a loaded Project or a row of its summary columns."""
    status = Status(project.status)
    table = allowed_actions(status, principal.role)
    if GUARDED.isdisjoint(table):
        return table
    dossier = guards.Dossier(status=status, strand=project.strand, facts=facts, advisors=advisors)
    return [
        action
        for action in table
        if action not in GUARDED or guards.permits(action, principal, dossier)
    ]


class _Judged(NamedTuple):
    """What `actions_for` reads of a dossier besides its facts."""

    status: str
    strand: str


Advisors = Mapping[tuple[uuid.UUID, str], frozenset[str]]
"""Who advises on each (programme, strand) of a page (R-EVAL-3), where it matters."""


async def page_advisors(
    session: AsyncSession, principal: Principal, rows: Sequence[Row[Any]]
) -> Advisors:
    """R-EVAL-3: who advises on the strands of a page's dossiers, read from their programmes.
    Only a caller of an advising role needs it (one statement then; none for the others)."""
    if principal.role.value not in terms.ADVISING_ROLES or not rows:
        return {}
    at = repository.SUMMARY_NAMES.index("programme_id")
    ids = sorted({row[at] for row in rows})
    stmt = select(Programme).where(col(Programme.id).in_(ids))
    programmes = (await session.execute(stmt)).scalars().all()
    return {
        (programme.id, str(strand["code"])): terms.advisors(programme, str(strand["code"]))
        for programme in programmes
        for strand in programme.strands
    }


def page_actions(
    principal: Principal, advisors: Advisors
) -> Callable[[Mapping[str, Any], Mapping[str, Any]], list[ProjectAction]]:
    """`actions_for` over a page of rows for one caller, judged once per distinct (state,
    programme, strand, facts): a page of 50 dossiers holds a handful of them (issue 13). The
    answer depends on nothing else (`guards.Dossier` is the state, the strand, its advisors
    and the facts). Each row is given as its `summary_values`."""
    judged: dict[tuple[Any, ...], list[ProjectAction]] = {}

    def actions(summary: Mapping[str, Any], facts: Mapping[str, Any]) -> list[ProjectAction]:
        status, strand = summary["status"], summary["strand"]
        advising = advisors.get((summary["programme_id"], strand), frozenset())
        key = (status, strand, advising, *facts.values())
        found = judged.get(key)
        if found is None:
            found = judged[key] = actions_for(principal, _Judged(status, strand), facts, advising)
        return found

    return actions


def summary_values(row: Row[Any]) -> dict[str, Any]:
    """A list row's summary columns and candidate name, by name (`repository.SUMMARY_NAMES`),
    read by position: a Row's attribute access costs 0.7 µs, twenty of them a row (issue 13)."""
    return dict(zip(repository.SUMMARY_NAMES, row, strict=False))


def _facts_stmt(principal: Principal, project_id: uuid.UUID, *columns: Any) -> Any:
    return (
        sa_select(*columns, *guards.fact_columns(principal))
        .select_from(Project)
        .where(col(Project.id) == project_id)
    )


async def advisors_for(
    session: AsyncSession, principal: Principal, project: Project
) -> frozenset[str]:
    """R-EVAL-3: who advises on a loaded dossier's strand, read from its programme; only a
    caller of an advising role needs it (a statement then, none for the others)."""
    if principal.role.value not in terms.ADVISING_ROLES:
        return frozenset()
    programme = await session.get_one(Programme, project.programme_id)
    return terms.advisors(programme, project.strand)


async def actions_now(
    session: AsyncSession, principal: Principal, project: Project
) -> list[ProjectAction]:
    """`actions_for` a dossier loaded without its facts (an error path, issue 12): one
    statement reads them, none when the table offers the caller no guarded action."""
    facts: dict[str, Any] = {}
    if guards.needs_facts(principal, allowed_actions(Status(project.status), principal.role)):
        row = (await session.execute(_facts_stmt(principal, project.id))).one()
        facts = guards.facts_of(row, principal)
    advisors = await advisors_for(session, principal, project)
    return actions_for(principal, project, facts, advisors)


async def name_and_actions(
    session: AsyncSession, principal: Principal, project: Project
) -> tuple[str, list[ProjectAction]]:
    """The candidate's name of a dossier just written and what the caller may do on it now:
    one statement (the name and the guards' facts together)."""
    stmt = _facts_stmt(principal, project.id, col(Candidate.name)).join(
        Candidate, col(Candidate.id) == Project.candidate_id
    )
    row = (await session.execute(stmt)).one()
    advisors = await advisors_for(session, principal, project)
    return str(row[0]), actions_for(principal, project, guards.facts_of(row, principal), advisors)


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
        project.expense_lines = _expense_lines(data.expense_lines)
        project.total_cost_cents = sum(line.amount_cents for line in project.expense_lines)
    if data.other_funding is not None:
        project.funding_lines = _funding_lines(data.other_funding)
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


def project_facts(
    project: Project, forfait_cents: int | None = None, forfait_tier: str | None = None
) -> ProjectFacts:
    return ProjectFacts(
        title=project.title,
        description=project.description,
        nature=Nature(project.nature) if project.nature else None,
        start_on=project.start_on,
        end_on=project.end_on,
        sponsor_name=project.sponsor_name,
        sponsor_role=project.sponsor_role,
        requested_cents=project.requested_cents,
        expense_lines=tuple(
            ExpenseLineFacts(
                category=line.category,
                amount_cents=line.amount_cents,
                label=line.label,
                vendor_origin=VendorOrigin(line.vendor_origin) if line.vendor_origin else None,
                ref=str(line.id),
            )
            for line in project.expense_lines
        ),
        other_public_funding_cents=sum(f.amount_cents for f in project.funding_lines),
        forfait_cents=forfait_cents,
        forfait_tier=forfait_tier,
    )


async def assess_project(
    session: AsyncSession,
    project: Project,
    programme: Programme | None = None,
    *,
    request_day: date | None = None,
    candidate: Candidate | None = None,
    candidate_kind: str | None = None,
) -> EligibilityReport:
    """Load the facts a dossier is judged on and run the pure rules (R-FLOW-2), on the terms
    of its programme and strand (R-PROG-1): the strand's cap rate (R-CAP-1), its forfaits
    (R-CAP-3) when the strand has them, the programme's categories (R-EXCL-1, R-EXCL-2) and
    eligible kinds (R-ELIG-1).

    R-ELIG-8: `request_day` is the day the request was received: today for a dossier filed
    here, the filing date (`dateDepot`) for one imported from démarches-simplifiées.
    `programme`, `candidate` and `candidate_kind`, when the caller already holds them (issue
    13), save a statement each (a programme's preview judges a sample dossier of an unsaved
    candidate, R-PROG-1).
    """
    if programme is None:
        programme = await session.get_one(Programme, project.programme_id)
    rules = strand_rules(programme, project.strand)
    forfait, forfait_tier = None, None
    if rules is not None and rules.forfaits:
        if candidate is None:
            candidate = await session.get_one(Candidate, project.candidate_id)
        schedule = await programme_service.forfait_schedule(session, programme, project.departement)
        tier = select_forfait(
            schedule.tiers,
            kind=candidate.kind,
            population=candidate.population,
            epci_type=candidate.epci_type,
        )
        if tier is not None:  # R-CAP-3: its amount, and its label to name it by
            forfait, forfait_tier = int(tier["amount_cents"]), str(tier["label"])
    if candidate_kind is None:
        if candidate is None:
            candidate = await session.get_one(Candidate, project.candidate_id)
        candidate_kind = candidate.kind
    day = request_day or today_in_france()
    report = assess(
        project_facts(project, forfait, forfait_tier),
        terms.programme_terms(programme, project.strand),
        day,
    )
    outside = terms.report_failures(programme, strand=project.strand, kind=candidate_kind)
    if outside:
        report = replace(report, failures=(*outside, *report.failures))
    return report


# R-DOC-1: the step whose documents a dossier in this state gathers next.
DOCUMENTS_STEP: dict[Status, Step] = {
    Status.DRAFT: Step.SUBMISSION,
    Status.ACCEPTED: Step.CONVENTION,
    Status.UNDER_CONVENTION: Step.FINAL_REPORT,
}


@dataclass(frozen=True)
class Eligibility:
    """A dossier's eligibility report and what its next step lacks of its documents."""

    project: Project
    report: EligibilityReport
    documents_step: Step | None
    missing_documents: list[RuleFailure]


async def eligibility(
    session: AsyncSession, principal: Principal, *, project_id: uuid.UUID
) -> Eligibility:
    """The eligibility report of a dossier in scope (any status, drafts included). For a draft
    its failures are what submitting it would list, the missing documents included (R-DOC-1);
    `missing_documents` lists what the dossier's next step lacks, whatever its state."""
    view = await read_project(session, principal, project_id=project_id)
    report = await assess_project(
        session, view.project, view.programme, candidate_kind=view.candidate_kind
    )
    step = DOCUMENTS_STEP.get(Status(view.project.status))
    missing = [] if step is None else await hooks.step_failures(session, view.project, step)
    if step is Step.SUBMISSION:
        report = replace(report, failures=(*report.failures, *missing))
    return Eligibility(view.project, report, step, missing)


def check_transition(project: Project, action: Action) -> Status:
    """R-FLOW-1: the state `action` leads to, or InvalidTransition (409) naming both states."""
    before = Status(project.status)
    try:
        return next_status(before, action)
    except IllegalTransition as exc:
        raise InvalidTransition(
            f"Transition « {action.value} » impossible : le dossier est "
            f"« {STATUS_LABELS_FR[before]} » ({before.value}), la transition mènerait à "
            f"« {exc.target.value} ».",
            code="R-FLOW-1",
            current_status=before.value,
            requested_status=exc.target.value,
        ) from exc


async def check_transition_for(
    session: AsyncSession, principal: Principal, project: Project, action: Action
) -> Status:
    """`check_transition` for a caller: its 409 also lists the actions it may do now
    (`allowed_actions`, issue 12; their facts cost a statement on this error path only)."""
    try:
        return check_transition(project, action)
    except InvalidTransition as exc:
        exc.extensions["allowed_actions"] = [
            a.value for a in await actions_now(session, principal, project)
        ]
        raise


async def advance(
    session: AsyncSession,
    principal: Principal,
    project: Project,
    action: Action,
    message: str | None = None,
) -> None:
    """Apply `action` to a loaded dossier (R-FLOW-1) and stamp it in the history.

    The version column guards the UPDATE: a concurrent change of the dossier is a 412.
    """
    before = Status(project.status)
    project.status = check_transition(project, action).value
    project.updated_at = utcnow()
    await flush_versioned(session)
    session.add(_stamp(project, principal, action, before, message))
    await session.flush()
    await audit.record(  # R-AUDIT-1: every transition, whoever drives it
        session,
        principal,
        object_type="project",
        object_id=project.id,
        departement=project.departement,
        action=STATUS_CHANGED,
        before={"status": before.value},
        after={"status": project.status, "transition": action.value, "message": message},
    )
    await hooks.notify(session, principal, project, before, action)  # e.g. R-COM-2


async def transition(
    session: AsyncSession,
    principal: Principal,
    *,
    project_id: uuid.UUID,
    action: Action,
    if_match: str | None,
    message: str | None = None,
) -> Project:
    """Move a dossier along R-FLOW-1, stamped in its history.

    R-FLOW-2: submit runs the eligibility check and lists every failed rule (422).
    Raises ProjectNotFound (404), 428/412 (If-Match), InvalidTransition (409).
    """
    project = await get_project(session, principal, project_id=project_id)
    check_if_match(if_match, project.version)
    await check_transition_for(session, principal, project, action)
    if action is Action.SUBMIT:
        report = await assess_project(session, project)
        raise_failures(  # R-FLOW-2: the rules, and the documents it lacks (R-DOC-1)
            [*report.failures, *await hooks.step_failures(session, project, Step.SUBMISSION)],
            error=ProjectIneligible,
            detail="Le dossier ne peut pas être déposé : voir chaque règle non respectée "
            "dans `errors` (R-FLOW-2).",
        )
        project.submitted_at = utcnow()
        project.status_message = None
    if action in (Action.RETURN, Action.CLOSE):
        project.status_message = message
    if action is Action.RETURN:
        project.returned_at = utcnow()  # told apart from a new draft (issue 12)
    await advance(session, principal, project, action, message)
    return project


async def submit_filed(
    session: AsyncSession, principal: Principal, *, project: Project, request_day: date
) -> EligibilityReport:
    """Submit a loaded draft filed elsewhere (démarches-simplifiées) on `request_day`.

    R-FLOW-2: every rule runs, R-ELIG-8 against the filing day; an ineligible dossier stays a
    draft and the report says why (nothing is raised: the caller lists it). Returns the report.
    """
    check_transition(project, Action.SUBMIT)
    report = await assess_project(session, project, request_day=request_day)
    if report.eligible:
        project.submitted_at = utcnow()
        project.status_message = None
        await advance(session, principal, project, Action.SUBMIT)
    return report


async def reject(
    session: AsyncSession, principal: Principal, *, project_id: uuid.UUID, motivation: str
) -> Project:
    """A committee's rejection made final (R-COM-3): `in_review → rejected` (R-FLOW-1), the
    motivation kept as the dossier's status message and in its history."""
    project = await get_project(session, principal, project_id=project_id, with_lines=False)
    check_transition(project, Action.REJECT)
    project.status_message = motivation
    await advance(session, principal, project, Action.REJECT, motivation)
    return project


async def history(
    session: AsyncSession, principal: Principal, *, project_id: uuid.UUID
) -> list[ProjectTransition]:
    """Every transition of a dossier in scope, oldest first."""
    await get_project(session, principal, project_id=project_id, with_lines=False)
    return await repository.list_transitions(session, project_id)


def hides_state_agents(principal: Principal) -> bool:
    """Candidates see which role acted on their dossier, not which State agent."""
    return principal.role is Role.CANDIDATE


def shows_scores(principal: Principal) -> bool:
    """R-EVAL-4: candidates never see an evaluation, a count or a score of their dossiers."""
    return principal.role is not Role.CANDIDATE


def score_summary(project: Project) -> ScoreSummary:
    return ScoreSummary(
        evaluation_count=project.evaluation_count,
        mean_score_centi=project.mean_score_centi,
        advisory_count=project.advisory_count,
        advisory_mean_centi=project.advisory_mean_centi,
    )


async def record_scores(
    session: AsyncSession, *, project_id: uuid.UUID, summary: ScoreSummary
) -> None:
    """Store a dossier's evaluation summary (R-EVAL-3), called by the evaluations service in
    its transaction, after it locked the project row and recomputed the summary.

    A Core UPDATE: the project's version and updated_at do not move (R-EVAL-4: nothing a
    candidate reads changes when an evaluation is written), nor does the candidate's ETag.
    """
    values = {
        "evaluation_count": summary.evaluation_count,
        "mean_score_centi": summary.mean_score_centi,
        "advisory_count": summary.advisory_count,
        "advisory_mean_centi": summary.advisory_mean_centi,
    }
    table = Project.__table__  # type: ignore[attr-defined]
    await session.execute(update(table).where(table.c.id == project_id).values(**values))
    loaded = session.identity_map.get(session.identity_key(Project, project_id))
    if loaded is not None:  # keep a project already loaded in this session in step
        for name, value in values.items():
            set_committed_value(loaded, name, value)


async def score_summaries(
    session: AsyncSession, project_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ScoreSummary]:
    """The evaluation summaries of these dossiers (no scope check: callers are services that
    already resolved the dossiers in the principal's scope); missing ids are left out."""
    if not project_ids:
        return {}
    rows = await session.execute(
        sa_select(
            col(Project.id),
            col(Project.evaluation_count),
            col(Project.mean_score_centi),
            col(Project.advisory_count),
            col(Project.advisory_mean_centi),
        ).where(col(Project.id).in_(list(project_ids)))
    )
    return {
        row[0]: ScoreSummary(
            evaluation_count=row[1],
            mean_score_centi=row[2],
            advisory_count=row[3],
            advisory_mean_centi=row[4],
        )
        for row in rows.all()
    }
