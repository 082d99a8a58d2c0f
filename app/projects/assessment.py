"""Judging a dossier's eligibility: the facts loaded, the pure rules run on its programme's terms.

R-FLOW-2 (every failed rule at once), R-CAP-1, R-CAP-3 (the strand's rate and forfaits),
R-ELIG-8 (the day the request was received), R-DOC-1 (the documents its next step lacks).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.candidates.models import Candidate
from app.core import clock
from app.core.rawsql import ReadConnection
from app.core.rules import RuleFailure
from app.programme import cache as programme_cache, service as programme_service
from app.programme.models import Programme
from app.programme.rules import Step, select_forfait, strand_rules
from app.projects import hooks, repository, terms
from app.projects.cost_rules import ExpenseLineFacts, VendorOrigin
from app.projects.eligibility_rules import EligibilityReport, Nature, ProjectFacts, assess
from app.projects.errors import ProjectNotFound
from app.projects.lifecycle_rules import (
    Status,
)
from app.projects.models import Project
from app.projects.reads import Dossier, ReadDossier


def today_in_france() -> date:
    return clock.today()


def line_facts(line: Any) -> ExpenseLineFacts:
    """What the cost rules read of an expense line (an ORM line, a lean read's line or row)."""
    return ExpenseLineFacts(
        category=line.category,
        amount_cents=line.amount_cents,
        label=line.label,
        vendor_origin=VendorOrigin(line.vendor_origin) if line.vendor_origin else None,
        ref=str(line.id),
    )


def project_facts(
    project: Dossier, forfait_cents: int | None = None, forfait_tier: str | None = None
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
        expense_lines=tuple(line_facts(line) for line in project.expense_lines),
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
    return judge(project, programme, day, candidate_kind, forfait, forfait_tier)


def judge(
    project: Dossier,
    programme: Programme,
    day: date,
    candidate_kind: str | None,
    forfait: int | None,
    forfait_tier: str | None,
) -> EligibilityReport:
    """The pure rules on the facts loaded (R-FLOW-2), on the programme's terms (R-PROG-1), with
    what the programme adds: the candidate's kind (R-ELIG-1) and the strand."""
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

    project: Dossier
    report: EligibilityReport
    documents_step: Step | None
    missing_documents: list[RuleFailure]


def forfait_of(
    programme: Programme,
    strand: str,
    own_tiers: Any,
    *,
    kind: str,
    population: int | None,
    epci_type: str | None,
) -> tuple[int | None, str | None]:
    """R-CAP-3: the forfait of the candidate's tier, and its label, when the strand has
    forfaits: from its département's own schedule (`own_tiers`) when its prefect set one, else
    the programme's (`programme_service.forfait_schedule`, read by the lean reads in their own
    statement)."""
    rules = strand_rules(programme, strand)
    if rules is None or not rules.forfaits:
        return None, None
    tier = select_forfait(
        programme.forfaits if own_tiers is None else own_tiers,
        kind=kind,
        population=population,
        epci_type=epci_type,
    )
    if tier is None:
        return None, None
    return int(tier["amount_cents"]), str(tier["label"])


async def eligibility(
    connection: ReadConnection, principal: Principal, *, project_id: uuid.UUID, production: bool
) -> Eligibility:
    """The eligibility report of a dossier in scope (any status, drafts included; else
    ProjectNotFound, 404, R-ACL-1). For a draft its failures are what submitting it would
    list, the missing documents included (R-DOC-1); `missing_documents` lists what the
    dossier's next step lacks, whatever its state.

    Issue 28, on the lean read path: the dossier, its lines, its candidate, its forfaits and
    its documents in one statement, its programme from the cache.
    `production`: whether the service runs in production (R-DOC-1 judges an unscanned
    document strictly there)."""
    found = await repository.read_dossier_row(connection, principal, project_id, report=True)
    if found is None:
        raise ProjectNotFound()
    row = found._mapping
    programme = await programme_cache.programme_at_on(
        connection, row["programme_id"], row["programme_version"]
    )
    dossier = ReadDossier.of(row)
    forfait, tier = forfait_of(
        programme,
        dossier.strand,
        row["departement_forfaits"],
        kind=row["candidate_kind"],
        population=row["candidate_population"],
        epci_type=row["candidate_epci_type"],
    )
    report = judge(dossier, programme, today_in_france(), row["candidate_kind"], forfait, tier)
    step = DOCUMENTS_STEP.get(Status(dossier.status))
    missing = (
        []
        if step is None
        else await hooks.step_failures(connection, dossier, step, production=production, facts=row)
    )
    if step is Step.SUBMISSION:
        report = replace(report, failures=(*report.failures, *missing))
    return Eligibility(dossier, report, step, missing)
