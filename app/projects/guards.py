"""What decides an action on a dossier beyond its state and the caller's role (issue 12).

Some actions hang on facts of a higher domain: an evaluation on whether the caller has already
evaluated the dossier and on its strand (R-EVAL-2, R-EVAL-3), the final report on the grant
(R-PAY-2). This domain may not import those domains (the dependency direction), so they
register here, for their action, as `app.audit`'s `on_append` listeners do:

- SQL facts, each a column built from the principal and correlated to `Project.id` (an
  EXISTS), which the project reads select in their own statement (issue 13: no extra query);
- the pure predicate their service judges the action by, reading those facts.

`allowed_actions` offers a GUARDED action only when the table (state, role) allows it and its
guard permits it; with no guard registered, it is never offered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Label, String, bindparam

from app.auth.principal import Principal, Role
from app.projects.lifecycle_rules import ACTION_ROLES, ProjectAction, Status

FactColumn = Callable[[ColumnElement[str]], ColumnElement[Any]]
"""A fact of the dossier for the caller whose subject is given (the bind parameter `CALLER`),
as a column correlated to `Project.id`."""

CALLER = "caller_subject"
"""The bind parameter of the caller's subject in the fact columns (issue 13: a statement built
once per role is executed with `fact_params(principal)`)."""


@dataclass(frozen=True)
class Dossier:
    """What a guard's predicate reads: the dossier's state, its strand, who advises on that
    strand of its programme (R-EVAL-3, the programme's data) and the facts selected for the
    caller (by name)."""

    status: Status
    strand: str
    facts: Mapping[str, Any]
    advisors: frozenset[str] = frozenset()


Predicate = Callable[[Principal, Dossier], bool]


@dataclass(frozen=True)
class Guard:
    action: ProjectAction
    facts: Mapping[str, FactColumn]
    permits: Predicate


_guards: dict[ProjectAction, Guard] = {}
_generation = 0  # bumped at each registration: statements built from the guards key on it


def generation() -> int:
    """Changes whenever a guard is registered (statements cached per role key on it)."""
    return _generation


def guard(
    action: ProjectAction, *, facts: Mapping[str, FactColumn]
) -> Callable[[Predicate], Predicate]:
    """Register `permits(principal, dossier)` as the guard of `action`, reading `facts`.

    Fact names are shared by all guards: one name is one fact (a second registration of the
    same action replaces the first, as a module reloaded in tests does).
    """

    def register(permits: Predicate) -> Predicate:
        taken = {
            name for other in _guards.values() if other.action is not action for name in other.facts
        }
        if taken & set(facts):
            raise ValueError(f"fact names already registered: {sorted(taken & set(facts))}")
        global _generation
        _guards[action] = Guard(action, dict(facts), permits)
        _generation += 1
        return permits

    return register


def _label(name: str) -> str:
    return f"fact_{name}"


def _concerned(role: Role) -> list[Guard]:
    """The guards of the actions the caller's role may drive (ACTION_ROLES): a candidate's or
    DINUM's reads select no fact."""
    return [g for g in _guards.values() if role in ACTION_ROLES[g.action]]


def _fact_columns(role: Role, caller: ColumnElement[str]) -> list[Label[Any]]:
    return [
        column(caller).label(_label(name))
        for g in _concerned(role)
        for name, column in g.facts.items()
    ]


def fact_columns(principal: Principal) -> list[Label[Any]]:
    """The facts the caller's actions hang on, as labelled columns to add to a statement over
    `Project` (correlated to its `Project.id`), the caller's subject bound in them."""
    return _fact_columns(principal.role, bindparam(CALLER, principal.subject, type_=String))


def role_fact_columns(role: Role) -> list[Label[Any]]:
    """The same columns for any caller of this role: a statement built once per role, then
    executed with `fact_params(principal)` (issue 13)."""
    return _fact_columns(role, bindparam(CALLER, type_=String))


def fact_params(principal: Principal) -> dict[str, Any]:
    """The parameters of the statements built with `role_fact_columns(principal.role)`."""
    return {CALLER: principal.subject}


def fact_names(role: Role) -> tuple[str, ...]:
    """The names of the facts `role_fact_columns(role)` selects, in their order: a row that
    ends with those columns reads them by position (issue 28, the list pages)."""
    return tuple(name for g in _concerned(role) for name in g.facts)


def facts_reader(principal: Principal) -> Callable[[Any], dict[str, Any]]:
    """Reads back, from a result row, the facts `fact_columns(principal)` selected (the
    names worked out once for a whole page of rows)."""
    labels = [(name, _label(name)) for g in _concerned(principal.role) for name in g.facts]

    def read(row: Any) -> dict[str, Any]:
        mapping = row._mapping
        return {name: mapping[label] for name, label in labels}

    return read


def facts_of(row: Any, principal: Principal) -> dict[str, Any]:
    """The facts `fact_columns(principal)` selected, read back from a result row."""
    return facts_reader(principal)(row)


def needs_facts(principal: Principal, actions: list[ProjectAction]) -> bool:
    """Whether some of these actions (allowed by the table) wait on a registered fact."""
    return any(g.facts for g in _concerned(principal.role) if g.action in actions)


def permits(action: ProjectAction, principal: Principal, dossier: Dossier) -> bool:
    """The registered guard's verdict; False when `action` has none (never offered blind)."""
    registered = _guards.get(action)
    return registered is not None and registered.permits(principal, dossier)
