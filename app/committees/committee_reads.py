"""A committee as `CommitteeRead` shows it, and its read on the lean read path (issue 28).

`GET /committees/{id}` reads through Core statements on one snapshot (`read_access`'s `snapshot`):
the committee in scope (R-ACL-1, the clause of `access`) with its programme's version, then its
agenda (each dossier with its candidate, its evaluation summary and its département's forfait
schedule), then the agenda's expense lines. No ORM object, no session.
The writes that answer with the committee (agenda, decision, close, cancel, planning) keep their
ORM view (`app.committees.views`); both build the response with `committee_fields`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Select, String, bindparam, select

from app.auth.principal import Principal
from app.candidates.models import Candidate
from app.committees import access
from app.committees.errors import CommitteeNotFound
from app.committees.models import AgendaItem, Committee
from app.committees.rules import (
    AgendaRank,
    CommitteeStatus,
    Outcome,
    agenda_sort_key,
    is_small_population,
)
from app.committees.schemas import DecisionRead, MemberRead
from app.committees.views import AgendaRow
from app.core.rawsql import ReadConnection
from app.programme import cache as programme_cache
from app.programme.models import DepartementForfaits, Programme
from app.projects import terms
from app.projects.assessment import forfait_of, line_facts
from app.projects.cap_rules import max_grant_cents
from app.projects.cost_rules import ExpenseLineFacts, eligible_cost
from app.projects.display import ScoreSummary, centi_text
from app.projects.models import ExpenseLine, Project


def members(committee: Any) -> list[MemberRead]:
    return [MemberRead.model_validate(m) for m in committee.members]


def summary_fields(committee: Any, agenda_count: int, programme: str) -> dict[str, Any]:
    """`CommitteeSummary`'s fields of a committee read by attribute (ORM object or Core row)."""
    member_list = members(committee)
    return {
        "id": committee.id,
        "programme": programme,
        "departement": committee.departement,
        "title": committee.title,
        "meeting_on": committee.meeting_on,
        "status": CommitteeStatus(committee.status),
        "chair": member_list[0],
        "members": member_list,
        "agenda_count": agenda_count,
        "closed_at": committee.closed_at,
        "cancelled_at": committee.cancelled_at,
        "version": committee.version,
        "created_at": committee.created_at,
        "updated_at": committee.updated_at,
    }


def decision_read(item: Any) -> DecisionRead | None:
    """The decision on an agenda item read by attribute (ORM object or Core row)."""
    if item.outcome is None or item.decided_at is None:
        return None
    return DecisionRead(
        outcome=Outcome(item.outcome),
        granted_cents=item.granted_cents,
        motivation=item.motivation,
        decided_at=item.decided_at,
        eligible_cost_cents=item.eligible_cost_cents,
        max_grant_cents=item.max_grant_cents,
        forfait_cents=item.forfait_cents,
        envelope_available_before_cents=item.envelope_available_before_cents,
        envelope_available_after_cents=item.envelope_available_after_cents,
        reference=item.reference,
    )


@dataclass(frozen=True)
class AgendaLine:
    """A dossier of the agenda as `AgendaItemRead` shows it, in plain values (the agenda item's
    decision columns by attribute: an ORM object or a Core row)."""

    item: Any
    project_id: uuid.UUID
    title: str
    strand: str
    status: str
    submitted_at: datetime | None
    requested_cents: int
    candidate_id: uuid.UUID
    candidate_name: str
    population: int | None
    small_population: bool
    max_grant_cents: int
    score: ScoreSummary

    @property
    def rank(self) -> tuple[int, int, int, float, str]:
        """R-COM-4 order: mean score descending (unscored last), small candidates first, then
        the earliest submission."""
        return agenda_sort_key(
            AgendaRank(
                mean_score_centi=self.score.mean_score_centi,
                small_population=self.small_population,
                submitted_at=self.submitted_at,
                tie_breaker=str(self.project_id),
            )
        )


def line_of(row: AgendaRow) -> AgendaLine:
    """An agenda row of the ORM view (writes) as plain values."""
    project, candidate = row.project, row.candidate
    return AgendaLine(
        item=row.item,
        project_id=project.id,
        title=project.title,
        strand=project.strand,
        status=project.status,
        submitted_at=project.submitted_at,
        requested_cents=project.requested_cents,
        candidate_id=candidate.id,
        candidate_name=candidate.name,
        population=candidate.population,
        small_population=row.small_population,
        max_grant_cents=row.report.max_grant_cents,
        score=row.score,
    )


def committee_fields(committee: Any, programme: str, lines: Sequence[AgendaLine]) -> dict[str, Any]:
    """`CommitteeRead`'s fields (validated once, by the response model); `lines` in R-COM-4
    order. R-COM-2: a dossier that left the agenda is on the minutes only."""
    agenda = [line for line in lines if line.item.left_at is None]
    return {
        **summary_fields(committee, len(agenda), programme),
        "envelope_available_before_cents": committee.envelope_available_before_cents,
        "envelope_available_after_cents": committee.envelope_available_after_cents,
        "agenda": [
            {
                "project_id": line.project_id,
                "title": line.title,
                "candidate_id": line.candidate_id,
                "candidate_name": line.candidate_name,
                "population": line.population,
                "small_population": line.small_population,
                "strand": line.strand,
                "status": line.status,
                "submitted_at": line.submitted_at,
                "requested_cents": line.requested_cents,
                "max_grant_cents": line.max_grant_cents,
                "evaluations": {
                    "count": line.score.evaluation_count,
                    "mean_weighted_total": centi_text(line.score.mean_score_centi),
                    "advisory_count": line.score.advisory_count,
                    "advisory_mean_weighted_total": centi_text(line.score.advisory_mean_centi),
                },
                "decision": decision_read(line.item),
            }
            for line in agenda
        ],
    }


_COMMITTEE = Committee.__table__  # type: ignore[attr-defined]
_ITEM = AgendaItem.__table__  # type: ignore[attr-defined]
_PROJECT = Project.__table__  # type: ignore[attr-defined]
_CANDIDATE = Candidate.__table__  # type: ignore[attr-defined]
_EXPENSE = ExpenseLine.__table__  # type: ignore[attr-defined]
_FORFAITS = DepartementForfaits.__table__  # type: ignore[attr-defined]
_PROGRAMME = Programme.__table__  # type: ignore[attr-defined]
_DECISION_COLUMNS = (
    "left_at",
    "outcome",
    "granted_cents",
    "motivation",
    "decided_at",
    "eligible_cost_cents",
    "max_grant_cents",
    "forfait_cents",
    "envelope_available_before_cents",
    "envelope_available_after_cents",
    "reference",
)


@cache
def _committee_stmt(kind: str) -> Select[Any]:
    """The committee in a scope of this kind (R-ACL-1) with its programme's version."""
    version = (
        select(_PROGRAMME.c.version)
        .where(_PROGRAMME.c.id == _COMMITTEE.c.programme_id)
        .scalar_subquery()
    )
    stmt = select(_COMMITTEE, version.label("programme_version")).where(
        _COMMITTEE.c.id == bindparam("committee_id")
    )
    clause = access.committee_scope_clause(kind, bindparam("scope_value", type_=String))
    return stmt if clause is None else stmt.where(clause)


@cache
def _agenda_stmt() -> Select[Any]:
    """The agenda's dossiers with what their line shows and their maximum grant needs: the
    candidate, the evaluation summary (R-EVAL-3, stored on the dossier), the other public
    funding and the département's own forfait schedule (R-CAP-3), if any."""
    project, candidate, forfaits = _PROJECT.c, _CANDIDATE.c, _FORFAITS.c
    return (
        select(
            *(_ITEM.c[name] for name in _DECISION_COLUMNS),
            project.id.label("project_id"),
            project.programme_id,
            project.departement,
            project.title,
            project.strand,
            project.status,
            project.submitted_at,
            project.requested_cents,
            project.evaluation_count,
            project.mean_score_centi,
            project.advisory_count,
            project.advisory_mean_centi,
            candidate.id.label("candidate_id"),
            candidate.name.label("candidate_name"),
            candidate.population,
            candidate.kind.label("candidate_kind"),
            candidate.epci_type,
            forfaits.tiers.label("departement_tiers"),
        )
        .select_from(
            _ITEM.join(_PROJECT, project.id == _ITEM.c.project_id)
            .join(_CANDIDATE, candidate.id == project.candidate_id)
            .outerjoin(
                _FORFAITS,
                (forfaits.programme_id == project.programme_id)
                & (forfaits.departement == project.departement),
            )
        )
        .where(_ITEM.c.committee_id == bindparam("committee_id"))
    )


@cache
def _lines_stmt() -> Select[Any]:
    """The expense lines of the agenda's dossiers, in each dossier's order."""
    agenda = select(_ITEM.c.project_id).where(_ITEM.c.committee_id == bindparam("committee_id"))
    line = _EXPENSE.c
    return (
        select(line.project_id, line.id, line.category, line.label, line.amount_cents)
        .add_columns(line.vendor_origin)
        .where(line.project_id.in_(agenda.scalar_subquery()))
        .order_by(line.project_id, line.position)
    )


def _max_grant(row: Mapping[Any, Any], programme: Programme, lines: list[ExpenseLineFacts]) -> int:
    """The eligibility report's maximum grant (R-CAP-1, R-CAP-3), from the rules `assess`
    computes it with: the eligible cost on the strand's terms, capped by the forfait of the
    candidate's tier when the strand has forfaits."""
    forfait, _ = forfait_of(
        programme,
        row["strand"],
        row["departement_tiers"],  # the département's own schedule, else the programme's
        kind=row["candidate_kind"],
        population=row["population"],
        epci_type=row["epci_type"],
    )
    strand_terms = terms.programme_terms(programme, row["strand"])
    cost = eligible_cost(
        lines, strand_terms.extra_eu_licence_share_cap_bps, strand_terms.categories
    )
    return max_grant_cents(cost.eligible_cost_cents, strand_terms.funding_cap_rate_bps, forfait)


async def read_committee(
    connection: ReadConnection, principal: Principal, *, committee_id: uuid.UUID
) -> tuple[Mapping[str, Any], dict[str, Any]]:
    """A committee in scope (404 otherwise, R-ACL-1) and `CommitteeRead`'s fields, its agenda in
    R-COM-4 order: three statements on one snapshot, none for the agenda's lines when it is
    empty."""
    kind, value = access.committee_scope(principal)
    params: dict[str, Any] = {"committee_id": committee_id, "scope_value": value}
    found = (await connection.execute(_committee_stmt(kind), params)).first()
    if found is None:
        raise CommitteeNotFound()
    committee = cast(Mapping[str, Any], found._mapping)  # keyed by column name
    programme = await programme_cache.programme_at_on(
        connection, committee["programme_id"], committee["programme_version"]
    )
    rows = (await connection.execute(_agenda_stmt(), params)).all()
    lines: dict[uuid.UUID, list[ExpenseLineFacts]] = {}
    if rows:
        for line in (await connection.execute(_lines_stmt(), params)).all():
            lines.setdefault(line[0], []).append(line_facts(line))
    threshold = programme.small_population_threshold
    agenda = sorted(
        (
            AgendaLine(
                item=row,
                project_id=row.project_id,
                title=row.title,
                strand=row.strand,
                status=row.status,
                submitted_at=row.submitted_at,
                requested_cents=row.requested_cents,
                candidate_id=row.candidate_id,
                candidate_name=row.candidate_name,
                population=row.population,
                # R-COM-4: candidates under the programme's population threshold are flagged.
                small_population=is_small_population(row.population, threshold),
                max_grant_cents=_max_grant(row._mapping, programme, lines.get(row.project_id, [])),
                # R-EVAL-3: the prefecture's mean only (ANCT's advisory totals kept apart).
                score=ScoreSummary(
                    evaluation_count=row.evaluation_count,
                    mean_score_centi=row.mean_score_centi,
                    advisory_count=row.advisory_count,
                    advisory_mean_centi=row.advisory_mean_centi,
                ),
            )
            for row in rows
        ),
        key=lambda line: line.rank,
    )
    return committee, committee_fields(found, programme.code, agenda)
