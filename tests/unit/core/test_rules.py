"""app.core.rules: what a failed rule carries to the client (problem+json `errors`, `code`)."""

from __future__ import annotations

import pytest

from app.core.errors import AppError, Conflict, ProblemItem, UnprocessableEntity
from app.core.rules import RuleFailure, raise_failures


def test_a_failure_becomes_a_problem_item() -> None:
    item = RuleFailure("R-CAP-1", "Trop.", "/requested_cents").as_item()
    assert item == ProblemItem(code="R-CAP-1", message="Trop.", field="/requested_cents")
    assert RuleFailure("R-ELIG-7", "Clos.").as_item().field == ""  # the whole document


def test_no_failure_raises_nothing() -> None:
    raise_failures([])


def test_failures_raise_422_named_by_the_first_rule_listing_every_one() -> None:
    failures = [RuleFailure("R-EXCL-3", "Nul.", "/expense_lines"), RuleFailure("R-CAP-1", "Cap.")]
    with pytest.raises(UnprocessableEntity) as caught:
        raise_failures(failures)
    error = caught.value
    assert (error.status, error.code) == (422, "R-EXCL-3")
    assert error.detail == "Nul. ; Cap."
    assert [(e.code, e.field, e.message) for e in error.errors] == [
        ("R-EXCL-3", "/expense_lines", "Nul."),
        ("R-CAP-1", "", "Cap."),
    ]


def test_the_error_class_and_detail_can_be_chosen() -> None:
    with pytest.raises(AppError) as caught:
        raise_failures([RuleFailure("R-PAY-1", "Avance.")], error=Conflict, detail="Refusé.")
    assert isinstance(caught.value, Conflict)
    assert (caught.value.status, caught.value.code, caught.value.detail) == (
        409,
        "R-PAY-1",
        "Refusé.",
    )
    assert [e.code for e in caught.value.errors] == ["R-PAY-1"]
