"""Issue 28: a list page's row is read by position, its summary's columns then the facts the
caller's guarded actions hang on (issue 12), each at the place the statement selects it."""

from __future__ import annotations

import pytest

from app.auth.principal import Role
from app.budgets import payments as payments_service  # noqa: F401  (registers its guard)
from app.evaluations import service as evaluations_service  # noqa: F401  (registers its guard)
from app.projects import guards, list_reads, repository
from app.projects.schemas import ProjectSummary


def test_a_list_item_is_every_field_of_a_summary() -> None:
    """The fields a row gives as they are, plus what the page computes: the four score
    columns folded into `evaluations` (R-EVAL-4: null for a candidate), `allowed_actions`
    (R-FLOW-1) and the list's programme (R-PROG-2)."""
    computed = {"evaluations", "allowed_actions", "programme"}
    assert set(list_reads._SHOWN) | computed == set(ProjectSummary.model_fields)
    assert not set(list_reads._SHOWN) & computed
    assert "programme_id" not in list_reads._SHOWN  # R-EVAL-3: read, never shown


@pytest.mark.parametrize("role", list(Role))
def test_the_facts_follow_the_summary_in_the_order_of_their_names(role: Role) -> None:
    stmt = repository._summary_stmt("national", role, guards.generation(), (), False, 50)
    names = [c.name for c in stmt.selected_columns]
    assert names[: list_reads._FACTS] == list(repository.SUMMARY_NAMES)
    labels = names[list_reads._FACTS :]
    assert labels == [f"fact_{name}" for name in guards.fact_names(role)]
    if role in (Role.PREFECT, Role.ANCT):
        assert labels  # R-EVAL-2: whether the caller has evaluated the dossier
