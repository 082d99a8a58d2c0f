"""Issue 28: `JsonShape` writes a response model's bytes from its fields without validating
them; a value of another type than the model's raises instead of being written."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from pydantic_core import PydanticSerializationError

from app.budgets.schemas import LedgerPage, MovementRead
from app.core.lean_json import JsonShape
from app.projects.lifecycle_rules import ProjectAction
from app.projects.schemas import ProjectList, ProjectSummary


def _summary(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "id": uuid.uuid4(),
        "candidate_id": uuid.uuid4(),
        "candidate_name": "Commune de Saint-Étienne « test »",
        "programme": "FITN7-AXE3",
        "departement": "2A",
        "strand": "3c",
        "title": 'Guichet "numérique"\n\u2028',
        "nature": None,
        "status": "submitted",  # as the rows hold it: text, not the enumeration
        "requested_cents": 1_000_000,
        "total_cost_cents": 2_000_000,
        "start_on": date(2021, 3, 1),
        "end_on": None,
        "submitted_at": datetime(2021, 5, 1, 8, 30, 15, 123456, tzinfo=UTC),
        "returned_at": None,
        "allowed_actions": [ProjectAction.EVALUATE, ProjectAction.RETURN],
        "evaluations": {
            "count": 2,
            "mean_weighted_total": "3.45",
            "advisory_count": 0,
            "advisory_mean_weighted_total": None,
        },
        "version": 3,
        "created_at": datetime(2021, 1, 4, 9, 0, tzinfo=UTC),
        "updated_at": datetime(2021, 5, 1, 8, 30, 15, tzinfo=UTC),
    }
    fields.update(overrides)
    return {name: fields[name] for name in ProjectSummary.model_fields}  # the model's order


def test_a_list_page_is_the_bytes_of_its_model() -> None:
    page = {
        "items": [_summary(), _summary(evaluations=None, nature="innovation")],
        "next_cursor": "projects.1.ab",
    }
    expected = ProjectList.model_validate(page).model_dump_json().encode()
    assert JsonShape(ProjectList).dump(page) == expected
    empty = {"items": [], "next_cursor": None}
    assert (
        JsonShape(ProjectList).dump(empty)
        == ProjectList.model_validate(empty).model_dump_json().encode()
    )


def test_a_ledger_page_is_the_bytes_of_its_model() -> None:
    movement = {
        "id": 12,
        "departement": "13",
        "kind": "commitment",
        "allocated_delta_cents": 0,
        "committed_delta_cents": -500,
        "paid_delta_cents": 0,
        "project_id": uuid.uuid4(),
        "reference": None,
        "actor": "prefet-13",
        "actor_role": "prefect",
        "at": datetime(2021, 2, 26, 9, 0, 0, 1, tzinfo=UTC),
    }
    assert list(movement) == list(MovementRead.model_fields)
    page = {"items": [movement, dict(movement, project_id=None)], "next_cursor": None}
    expected = LedgerPage.model_validate(page).model_dump_json().encode()
    assert JsonShape(LedgerPage).dump(page) == expected


@pytest.mark.parametrize(
    "overrides", [{"version": "3"}, {"id": 12}, {"evaluations": {"count": "2"}}]
)
def test_a_value_of_another_type_raises_and_is_never_written(overrides: dict[str, object]) -> None:
    page = {"items": [_summary(**overrides)], "next_cursor": None}
    with pytest.raises(PydanticSerializationError):
        JsonShape(ProjectList).dump(page)
