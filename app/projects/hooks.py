"""Listeners: what a higher domain does when a dossier changes state or strand.

A higher domain must act, in the same transaction, when a dossier moves: a dossier returned,
withdrawn or closed while on an open agenda leaves it (committees, R-COM-2); a draft that
changes strand voids the evaluations of its former strand (evaluations, R-EVAL-5). This domain
may not import them (the dependency direction), so they register an async listener here at
import, as the guards of `app.projects.guards` and `app.audit`'s `on_append` listeners do;
`advance` calls the transition listeners after each transition, the edit of a draft the strand
listeners when its strand changed. A step of the dossier may also need what a higher domain
keeps: the documents the programme requires (R-DOC-1) are checked by the checks registered
with `on_requirements`, which submission, the convention and the final report call. And what a
commit's listeners read of a dossier (the notices' addresses, the webhooks' subscriptions) is
registered with `on_written`, for a write that reads its dossier in one statement (issue 28).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Label
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.core.db import PRODUCTION
from app.core.rawsql import ReadConnection
from app.core.rules import RuleFailure
from app.programme.rules import Step
from app.projects.lifecycle_rules import Action, Status

if TYPE_CHECKING:
    from app.projects.models import Project
    from app.projects.reads import Dossier

TransitionListener = Callable[[AsyncSession, Principal, "Project", Status, Action], Awaitable[None]]
"""`listener(session, principal, project, before, action)`: the dossier already carries its new
status; the listener runs in the transition's transaction (it only flushes)."""

StrandListener = Callable[[AsyncSession, Principal, "Project"], Awaitable[None]]
"""`listener(session, principal, project)`: the draft already carries its new strand."""

RequirementCheck = Callable[
    [AsyncSession | ReadConnection, "Dossier", Step, bool, Mapping[Any, Any] | None],
    Awaitable[list[RuleFailure]],
]
"""`check(db, dossier, step, production, facts)`: what `step` still lacks (e.g. R-DOC-1), as
rule failures, read on a write's session or a read's connection (issue 28: the eligibility
report, with no session); `production`: whether the service runs in production; `facts`: the
row of a statement that selected `requirement_fact_columns` beside the dossier (None: the
check reads what it needs itself)."""

RequirementFacts = Callable[[str], ColumnElement[Any]]
"""`facts(dialect)`: what a check reads, as one column correlated to the dossier's row
(`project`), selected beside the dossier by a write that reads it in one statement (issue 28:
a submission's documents, R-DOC-1, read with its dossier: one round trip less)."""

WrittenFacts = Callable[[str], ColumnElement[Any]]
"""`facts(dialect)`: what a listener of the commit reads of a dossier, as one column correlated
to the dossier's row (`project`), selected beside the dossier by a write that reads it in one
statement (issue 28: a submission's notices' addresses and the webhooks' subscriptions, read
with its dossier: two round trips less at its commit)."""

Keeper = Callable[[AsyncSession, "Project", Any], None]
"""`keep(session, project, value)`: the dossier as written (its new status, its submission's
instant) and what `facts` read, called once the write is made; the listener keeps what it needs
for the commit in `app.core.db.transaction_info(session)`, forgotten when the transaction ends."""

_listeners: dict[str, TransitionListener] = {}
_strand_listeners: dict[str, StrandListener] = {}
_requirement_checks: dict[str, RequirementCheck] = {}
_requirement_facts: dict[str, RequirementFacts] = {}
_written_facts: dict[str, tuple[WrittenFacts, Keeper]] = {}


def on_transition(listener: TransitionListener) -> TransitionListener:
    """Register `listener` (by its qualified name: a module reloaded in tests replaces it)."""
    _listeners[f"{listener.__module__}.{listener.__qualname__}"] = listener
    return listener


def on_strand_change(listener: StrandListener) -> StrandListener:
    """Register `listener` for a draft's change of strand (by its qualified name, likewise)."""
    _strand_listeners[f"{listener.__module__}.{listener.__qualname__}"] = listener
    return listener


def on_requirements(check: RequirementCheck) -> RequirementCheck:
    """Register `check` for the steps of a dossier (by its qualified name, likewise)."""
    _requirement_checks[f"{check.__module__}.{check.__qualname__}"] = check
    return check


def on_requirement_facts(label: str) -> Callable[[RequirementFacts], RequirementFacts]:
    """Register the column a check reads (`RequirementFacts`), under `label` (the name the
    check looks for in the row it is given)."""

    def register(facts: RequirementFacts) -> RequirementFacts:
        _requirement_facts[label] = facts
        return facts

    return register


def requirement_fact_columns(dialect: str) -> list[Label[Any]]:
    """The registered checks' columns, each labelled with its name, to select beside the
    dossier (`FROM project`); a statement built with them is cached on `requirements_key`."""
    return [facts(dialect).label(label) for label, facts in _requirement_facts.items()]


def requirements_key() -> tuple[str, ...]:
    """What `requirement_fact_columns` selects (a cached statement's key)."""
    return tuple(_requirement_facts)


def on_written(label: str, facts: WrittenFacts) -> Callable[[Keeper], Keeper]:
    """Register `facts` (`WrittenFacts`, selected under `label`) and the keeper they go to."""

    def register(keep: Keeper) -> Keeper:
        _written_facts[label] = (facts, keep)
        return keep

    return register


def written_fact_columns(dialect: str) -> list[Label[Any]]:
    """The registered `WrittenFacts`, each labelled with its name, to select beside the dossier
    (`FROM project`); a statement built with them is cached on `written_key`."""
    return [facts(dialect).label(label) for label, (facts, _) in _written_facts.items()]


def written_key() -> tuple[str, ...]:
    """What `written_fact_columns` selects (a cached statement's key)."""
    return tuple(_written_facts)


def written(session: AsyncSession, project: Project, row: Mapping[Any, Any]) -> None:
    """Hand each keeper its facts of `row` (a row that holds `written_fact_columns`) and the
    dossier as written."""
    for label, (_, keep) in list(_written_facts.items()):
        keep(session, project, row[label])


async def step_failures(
    db: AsyncSession | ReadConnection,
    project: Dossier,
    step: Step,
    *,
    production: bool | None = None,
    facts: Mapping[Any, Any] | None = None,
) -> list[RuleFailure]:
    """Every registered check's failures for `step`, in registration order. `production`, when
    not given, is what the session says (a session that does not say, a worker's, is judged
    as production's: strictly). `facts`: a row that holds `requirement_fact_columns`."""
    if production is None:
        production = not isinstance(db, AsyncSession) or bool(db.info.get(PRODUCTION, True))
    failures: list[RuleFailure] = []
    for check in list(_requirement_checks.values()):
        failures += await check(db, project, step, production, facts)
    return failures


async def notify(
    session: AsyncSession, principal: Principal, project: Project, before: Status, action: Action
) -> None:
    """Call every registered listener, in registration order."""
    for listener in list(_listeners.values()):
        await listener(session, principal, project, before, action)


async def strand_changed(session: AsyncSession, principal: Principal, project: Project) -> None:
    """Call every strand listener, in registration order (e.g. R-EVAL-5)."""
    for listener in list(_strand_listeners.values()):
        await listener(session, principal, project)
