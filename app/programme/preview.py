"""R-PROG-1: what a programme, as it stands (a draft too), would say of a sample dossier.

The eligibility report is the dossiers' own (app.projects: `assess_project`), run over an
unsaved dossier of an unsaved candidate: nothing is written. Only the router imports this module
(the projects' domain sits above the programme's).
"""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.candidates.models import Candidate
from app.candidates.schemas import DepartementCode
from app.core.schemas import Cents, InputModel, IsoDate, JsonInt, ReadModel, Version
from app.programme import lifecycle
from app.programme.rules import Step, requirements
from app.programme.schemas import Bps, Code, ProgrammeStatusName, StrandCode
from app.projects import (
    assessment as projects_assessment,
    filing as projects_filing,
)
from app.projects.eligibility_rules import Nature
from app.projects.lifecycle_rules import Status
from app.projects.models import Project
from app.projects.schemas import (
    MAX_EXPENSE_LINES,
    ExpenseLineIn,
    FundingLineIn,
    LineOutcomeRead,
    RuleFailureRead,
)
from app.reference.kinds import OrganisationKind

SAMPLE_TEXT = "Aperçu"  # the content of a sample dossier is not judged (title, sponsor…)


class PreviewCandidate(InputModel):
    """Le candidat type : sa catégorie (R-ELIG-1) et ce qui choisit son forfait (R-CAP-3)."""

    kind: OrganisationKind
    population: JsonInt | None = Field(default=None, ge=0, le=10**8)
    epci_type: str | None = Field(default=None, max_length=10)
    departement: DepartementCode | None = Field(
        default=None, description="Son département (barème de forfaits du préfet, s'il en a un)."
    )


class ProgrammePreviewIn(InputModel):
    """Un dossier type, jugé par le programme tel qu'il est (brouillon compris) ; son contenu
    (titre, porteur, nature) n'est pas jugé, rien n'est enregistré."""

    candidate: PreviewCandidate = Field(description="Le candidat type.")
    strand: StrandCode
    request_day: IsoDate | None = Field(
        default=None, description="Jour du dépôt supposé (R-ELIG-7, R-ELIG-8) ; défaut : ce jour."
    )
    start_on: IsoDate | None = None
    end_on: IsoDate | None = None
    expense_lines: list[ExpenseLineIn] = Field(default_factory=list, max_length=MAX_EXPENSE_LINES)
    other_funding: list[FundingLineIn] = Field(default_factory=list, max_length=20)
    requested_cents: Cents = 0


class ProgrammePreviewRead(ReadModel):
    """Le rapport d'éligibilité que ce programme donnerait au dossier type une fois publié."""

    programme_code: str = Field(max_length=40, description="Le programme qui juge.")
    programme_status: ProgrammeStatusName = Field(
        description="Son état ; un brouillon est jugé comme s'il était publié."
    )
    programme_version: Version = Field(description="La version du programme qui juge.")
    request_day: date = Field(description="Le jour de dépôt supposé.")
    funding_cap_rate_bps: Bps = Field(description="R-CAP-1 : le taux plafond du volet.")
    eligible: bool
    total_cost_cents: Cents
    eligible_cost_cents: Cents
    excluded: list[LineOutcomeRead] = Field(max_length=MAX_EXPENSE_LINES)
    funding_cap_cents: Cents
    forfait_cents: Cents | None = Field(description="R-CAP-3 : forfait applicable.")
    forfait_tier: str | None = Field(
        max_length=300, description="R-CAP-3 : le palier du barème qui fixe ce forfait."
    )
    max_grant_cents: Cents
    requested_cents: Cents
    other_public_funding_cents: Cents
    failures: list[RuleFailureRead] = Field(max_length=250)
    submission_documents: list[Code] = Field(
        max_length=30, description="R-DOC-1 : les pièces que le dépôt de ce dossier demanderait."
    )


async def preview(
    session: AsyncSession, principal: Principal, *, code: str, data: ProgrammePreviewIn
) -> ProgrammePreviewRead:
    """The report of `assess_project` over the sample, with the programme's own checks of it:
    a strand it does not have (R-PROG-1), a kind it does not admit (R-ELIG-1). The programme's
    state is not judged (a draft is previewed as if published)."""
    programme = await lifecycle.visible_programme(session, principal, code)
    candidate = Candidate(  # type: ignore[call-arg]  # an unsaved sample: its identity is moot
        id=uuid.uuid4(),
        kind=data.candidate.kind.value,
        population=data.candidate.population,
        epci_type=data.candidate.epci_type,
        departement=data.candidate.departement or "",
    )
    lines = projects_filing.expense_line_rows(data.expense_lines)
    project = Project(
        id=uuid.uuid4(),
        created_by=principal.subject,
        candidate_id=candidate.id,
        programme_id=programme.id,
        departement=candidate.departement,
        strand=data.strand,
        title=SAMPLE_TEXT,
        description=SAMPLE_TEXT,
        nature=next(iter(Nature)).value,
        start_on=data.start_on,
        end_on=data.end_on,
        sponsor_name=SAMPLE_TEXT,
        sponsor_role=SAMPLE_TEXT,
        requested_cents=data.requested_cents,
        total_cost_cents=sum(line.amount_cents for line in lines),
        status=Status.DRAFT.value,
        expense_lines=lines,
        funding_lines=projects_filing.funding_line_rows(data.other_funding),
    )
    day = data.request_day or projects_assessment.today_in_france()
    report = await projects_assessment.assess_project(
        session, project, programme, request_day=day, candidate=candidate
    )
    strand = next((s for s in programme.strands if s["code"] == data.strand), None)
    failures: list[RuleFailureRead] = []
    if candidate.kind not in programme.eligible_kinds:
        failures.append(
            RuleFailureRead(
                code="R-ELIG-1",
                message=f"Catégorie non admise par ce programme : {candidate.kind}.",
                field="/candidate/kind",
            )
        )
    if strand is None:
        failures.append(
            RuleFailureRead(
                code="R-PROG-1",
                message=f"Volet inconnu du programme : {data.strand}.",
                field="/strand",
            )
        )
    failures += [
        RuleFailureRead(code=f.code, message=f.message, field=f.field)
        for f in report.failures
        if f.code != "R-PROG-1"  # the programme's state is not judged
    ]
    rate = strand.get("funding_cap_rate_bps") if strand is not None else None
    labels = {i: line.label for i, line in enumerate(lines)}
    return ProgrammePreviewRead(
        programme_code=programme.code,
        programme_status=programme.status,
        programme_version=programme.version,
        request_day=day,
        funding_cap_rate_bps=rate if rate is not None else programme.funding_cap_rate_bps,
        eligible=not failures,
        total_cost_cents=report.cost.total_cost_cents,
        eligible_cost_cents=report.cost.eligible_cost_cents,
        excluded=[
            LineOutcomeRead(
                line_id=None,
                position=o.index,
                label=labels.get(o.index, ""),
                amount_cents=o.amount_cents,
                eligible_cents=o.eligible_cents,
                excluded_cents=o.excluded_cents,
                rule=o.rule or "",
                reason=o.reason or "",
            )
            for o in report.cost.excluded
        ],
        funding_cap_cents=report.funding_cap_cents,
        forfait_cents=report.forfait_cents,
        forfait_tier=report.forfait_tier,
        max_grant_cents=report.max_grant_cents,
        requested_cents=data.requested_cents,
        other_public_funding_cents=report.other_public_funding_cents,
        failures=failures,
        submission_documents=[
            r.code
            for r in requirements(programme.required_documents)
            if r.step is Step.SUBMISSION
            and r.applies(strand=data.strand, candidate_kind=candidate.kind)
        ],
    )
