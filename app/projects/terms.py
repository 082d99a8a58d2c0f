"""What a dossier's programme decides for it (issue 26, R-PROG-1): the terms its eligibility
report reads (the strand's cap rate, the programme's categories), and what a dossier written
on it must name (one of its strands, its categories, a candidate of a kind it funds).

Nothing here names a call: every answer is read from the programme's data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args

from app.core.rules import RuleFailure, raise_failures
from app.programme.models import Programme
from app.programme.rules import categories, strand_codes, strand_rules
from app.programme.schemas import Advisor
from app.projects.cost_rules import check_categories
from app.projects.eligibility_rules import ProgrammeTerms
from app.projects.errors import OutsideProgramme
from app.reference.kinds import KIND_LABELS_FR, OrganisationKind


def programme_terms(programme: Programme, strand: str) -> ProgrammeTerms:
    """The terms a dossier of `strand` is judged by: the programme's dates and share cap, its
    categories (R-EXCL-1, R-EXCL-2), the strand's cap rate in force (R-CAP-1; the programme's
    when the strand is unknown, which `strand_failures` reports)."""
    rules = strand_rules(programme, strand)
    return ProgrammeTerms(
        window_opens_on=programme.window_opens_on,
        window_closes_on=programme.window_closes_on,
        results_deadline=programme.results_deadline,
        max_duration_months=programme.max_duration_months,
        funding_cap_rate_bps=(
            programme.funding_cap_rate_bps if rules is None else rules.funding_cap_rate_bps
        ),
        extra_eu_licence_share_cap_bps=programme.extra_eu_licence_share_cap_bps,
        categories=categories(programme.categories),
        status=programme.status,  # R-PROG-1: a closed programme takes no submission
    )


# R-EVAL-3: the roles a strand may name as its advisory evaluators. Whether a dossier's strand
# names the caller matters only to a caller of one of these roles.
ADVISING_ROLES: frozenset[str] = frozenset(get_args(Advisor))


def advisors(programme: Programme, strand: str) -> frozenset[str]:
    """R-EVAL-3: who advises on the dossiers of this strand (none for an unknown strand)."""
    rules = strand_rules(programme, strand)
    return frozenset() if rules is None else rules.advisors


def strand_failures(programme: Programme, strand: str) -> list[RuleFailure]:
    """R-PROG-1: a dossier's strand is one of its programme's; the failure lists them."""
    codes = strand_codes(programme)
    if strand in codes:
        return []
    return [
        RuleFailure(
            "R-PROG-1",
            f"Le volet « {strand} » n'est pas un volet du programme {programme.code} "
            f"(attendu : {', '.join(codes)}).",
            "/strand",
        )
    ]


def kind_failures(programme: Programme, kind: str) -> list[RuleFailure]:
    """R-ELIG-1, per programme: the candidate is of a kind the programme funds."""
    if kind in programme.eligible_kinds:
        return []
    eligible = ", ".join(_kind_label(k) for k in programme.eligible_kinds)
    return [
        RuleFailure(
            "R-ELIG-1",
            f"Une organisation de catégorie « {_kind_label(kind)} » n'est pas éligible au "
            f"programme {programme.code} (catégories éligibles : {eligible}).",
            None,
        )
    ]


def _kind_label(kind: str) -> str:
    try:
        return KIND_LABELS_FR[OrganisationKind(kind)]
    except (ValueError, KeyError):
        return kind


def check_written(
    programme: Programme,
    *,
    strand: str | None,
    line_categories: Sequence[str] | None,
    kind: str | None = None,
) -> None:
    """What a dossier written on this programme names is the programme's (422 listing every
    problem): its candidate's kind (R-ELIG-1, at creation), its strand and its expense lines'
    categories (R-PROG-1). None: not written this time."""
    failures: list[RuleFailure] = []
    if kind is not None:
        failures += kind_failures(programme, kind)
    if strand is not None:
        failures += strand_failures(programme, strand)
    if line_categories is not None:
        failures += check_categories(line_categories, categories(programme.categories))
    raise_failures(failures, error=OutsideProgramme)


def report_failures(programme: Programme, *, strand: str, kind: str | None) -> list[RuleFailure]:
    """What the eligibility report adds from the programme: R-ELIG-1 (the candidate's kind,
    when known) and R-PROG-1 (the strand; the categories are the pure rules')."""
    return [
        *(kind_failures(programme, kind) if kind is not None else []),
        *strand_failures(programme, strand),
    ]
