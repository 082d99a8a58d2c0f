"""A ledger row reads by position (issue 13): its names are the fields of a movement."""

from __future__ import annotations

from app.budgets.movements import LEDGER_COLUMNS, LEDGER_FIELDS
from app.budgets.schemas import MovementRead


def test_a_ledger_row_names_every_field_of_a_movement_in_column_order() -> None:
    assert len(LEDGER_FIELDS) == len(LEDGER_COLUMNS)
    assert set(LEDGER_FIELDS) | {"departement"} == set(MovementRead.model_fields)
    columns = [c.key for c in LEDGER_COLUMNS]
    renamed = {"actor_subject": "actor"}  # the one column whose field has another name
    assert [renamed.get(c, c) for c in columns] == list(LEDGER_FIELDS)
