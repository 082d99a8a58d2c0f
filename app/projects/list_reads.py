"""The dossier lists on the lean read path (issue 28): a page is one Core statement on a pooled
connection (`app.auth.dependencies.read_access`), its rows turned into `ProjectList`'s fields once,
no ORM session, no ORM object.

The statement is `repository.summary_page`'s: built once per shape (scope kind, role, filters
given, cursor or not, page size) and executed with parameters, its scope the one clause of
R-ACL-1 (`repository._scope_clause`). A row is read by position: the summary's columns
(`repository.SUMMARY_NAMES`), then the facts the caller's guarded actions hang on
(`guards.fact_names`, issue 12). Candidates see no score (R-EVAL-4). The page is written
as `ProjectList`'s bytes by `PAGE` (`app.core.lean_json`: the model's shape, no validation per
response), each item's fields in the model's order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import Row, select

from app.auth.principal import Principal
from app.core.lean_json import JsonShape
from app.core.pagination import PageParams, split_page
from app.core.rawsql import ReadConnection
from app.programme.cache import ProgrammeKey
from app.programme.models import Programme
from app.programme.rules import strand_rules
from app.projects import guards, repository, terms
from app.projects.actions import Advisors, page_actions
from app.projects.lifecycle_rules import ProjectAction
from app.projects.presenters import score_fields
from app.projects.reads import ProjectFilters, shows_scores
from app.projects.schemas import ProjectList, ProjectSummary

_NAMES = repository.SUMMARY_NAMES
_SCORES = ("evaluation_count", "mean_score_centi", "advisory_count", "advisory_mean_centi")
_HIDDEN = ("programme_id",)  # R-EVAL-3: read by the guards (who advises), not shown
# The fields a row gives as they are, and their positions.
_SHOWN = tuple(name for name in _NAMES if name not in _SCORES and name not in _HIDDEN)
_shown = itemgetter(*(_NAMES.index(name) for name in _SHOWN))
_scores = itemgetter(*(_NAMES.index(name) for name in _SCORES))
_ID, _CREATED = _NAMES.index("id"), _NAMES.index("created_at")
_STATUS, _STRAND, _PROGRAMME = (_NAMES.index(n) for n in ("status", "strand", "programme_id"))
_MISSING: Any = object()
_FACTS = len(_NAMES)  # the facts' columns follow the summary's
_PROGRAMMES = Programme.__table__  # type: ignore[attr-defined]
# An item's keys in `ProjectSummary`'s order, which its JSON follows: each item is a copy of
# this template (updating a key keeps its place).
_ITEM: dict[str, Any] = dict.fromkeys(ProjectSummary.model_fields)
PAGE = JsonShape(ProjectList)


def _given(filters: ProjectFilters) -> dict[str, Any]:
    """The filters given, by their names in `repository.FILTER_NAMES`."""
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
    return {name: value for name, value in given.items() if value is not None}


class _Strands(NamedTuple):
    """What `strand_rules` reads of a programme (`ProgrammeData`), as `terms.advisors` does."""

    strands: list[dict[str, Any]]
    funding_cap_rate_bps: int


async def _page_advisors(
    connection: ReadConnection, principal: Principal, rows: Sequence[Row[Any]]
) -> Advisors:
    """R-EVAL-3: who advises on the strands of a page's dossiers, read from their programmes.
    Only a caller of an advising role needs it (one statement then; none for the others)."""
    if principal.role.value not in terms.ADVISING_ROLES or not rows:
        return {}
    ids = sorted({row[_PROGRAMME] for row in rows})
    c = _PROGRAMMES.c
    stmt = select(c.id, c.strands, c.funding_cap_rate_bps).where(c.id.in_(ids))
    advisors: dict[tuple[uuid.UUID, str], frozenset[str]] = {}
    for programme_id, strands, cap in (await connection.execute(stmt)).all():
        programme = _Strands(strands, cap)
        for strand in strands:
            code = str(strand["code"])
            rules = strand_rules(programme, code)
            advisors[(programme_id, code)] = frozenset() if rules is None else rules.advisors
    return advisors


async def list_projects(
    connection: ReadConnection,
    principal: Principal,
    *,
    programme: ProgrammeKey,
    filters: ProjectFilters,
    page: PageParams,
) -> dict[str, Any]:
    """`ProjectList`'s fields: one keyset page of the dossiers in scope (R-ACL-1) on the
    programme `programme` (R-PROG-2), each with what the caller may do on it now (R-FLOW-1,
    issue 12) and its evaluations' summary for a State agent only (R-EVAL-4)."""
    after = None if page.cursor is None else page.format.decode_keyset(page.cursor)
    found = await repository.summary_page(connection, principal, _given(filters), after, page.limit)
    rows, next_cursor = split_page(list(found), page, lambda r: (r[_CREATED], r[_ID]))
    actions = page_actions(principal, await _page_advisors(connection, principal, rows))
    names = guards.fact_names(principal.role)
    shown = shows_scores(principal)  # R-EVAL-4
    code = programme.code  # the list's one programme (R-PROG-2)
    # A page holds a handful of distinct (state, strand, programme, facts) and of score
    # summaries: each judged or built once (issue 13), shared by the rows that have it.
    judged: dict[tuple[Any, ...], list[ProjectAction]] = {}
    summaries: dict[tuple[Any, ...], dict[str, object] | None] = {}
    items = []
    for row in rows:
        key = (row[_STATUS], row[_STRAND], row[_PROGRAMME], *row[_FACTS:])
        allowed = judged.get(key)
        if allowed is None:
            summary = {"status": key[0], "strand": key[1], "programme_id": key[2]}
            allowed = judged[key] = actions(summary, dict(zip(names, key[3:], strict=True)))
        scores = _scores(row)
        evaluations = summaries.get(scores, _MISSING)
        if evaluations is _MISSING:
            evaluations = summaries[scores] = score_fields(*scores) if shown else None
        item = _ITEM.copy()
        item.update(zip(_SHOWN, _shown(row), strict=True))
        item["evaluations"] = evaluations
        item["allowed_actions"] = allowed
        item["programme"] = code
        items.append(item)
    return {"items": items, "next_cursor": next_cursor}
