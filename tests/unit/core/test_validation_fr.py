"""Validation messages in French (issue 27 point 4), without the app: every pydantic error type
is told in French, with its constraint where it has one, and a body location loses the union
steps pydantic adds."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.validation_fr import (
    BUILTIN_ERROR_TYPES,
    allowed_values,
    body_pointer,
    french_message,
)

ENGLISH = ("Input should", "Value error", "Field required", "should have", "must be", "valid ")


@pytest.mark.parametrize("err_type", sorted(BUILTIN_ERROR_TYPES))
def test_no_builtin_error_type_is_told_in_english(err_type: str) -> None:
    message = french_message(
        {"type": err_type, "msg": "Input should be a valid thing", "ctx": {"error": ""}}
    )
    assert message and not any(word in message for word in ENGLISH), message


@pytest.mark.parametrize(
    ("err", "says"),
    [
        ({"type": "enum", "ctx": {"expected": "'3a', '3b' or '3c'"}}, "l'une de : 3a, 3b, 3c."),
        ({"type": "literal_error", "ctx": {"expected": "'rejected'"}}, "attendu rejected."),
        ({"type": "greater_than_equal", "ctx": {"ge": 1}}, "Valeur trop petite : minimum 1."),
        ({"type": "less_than_equal", "ctx": {"le": 200}}, "Valeur trop grande : maximum 200."),
        ({"type": "string_too_short", "ctx": {"min_length": 1}}, "au moins 1 caractère."),
        ({"type": "too_long", "ctx": {"max_length": 30}}, "au plus 30 éléments."),
        ({"type": "string_pattern_mismatch", "ctx": {"pattern": "^3[abc]$"}}, "motif ^3[abc]$"),
        (
            {"type": "value_error", "msg": "Value error, un entier", "ctx": {"error": "un entier"}},
            "Un entier.",
        ),
        (
            {
                "type": "datetime_from_date_parsing",
                "ctx": {"error": "day value is outside expected range"},
            },
            "jour inexistant dans ce mois",
        ),
        ({"type": "blank", "msg": "Ce texte ne peut pas être vide."}, "Ce texte ne peut pas"),
    ],
)
def test_each_constraint_is_told(err: dict[str, Any], says: str) -> None:
    assert says in french_message(err)


def test_allowed_values_reads_pydantic_expected() -> None:
    assert allowed_values("'a', 'b' or 'c'") == ["a", "b", "c"]
    assert allowed_values("1, 2 or 3") == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("parts", "body", "pointer"),
    [
        (["rejected", "motivation"], {"outcome": "rejected"}, ["motivation"]),  # a union tag
        (["lines", 0, "label"], {"lines": [{"label": 1}]}, ["lines", "0", "label"]),
        (["x", "int"], {"x": "a"}, ["x"]),  # a union member's name past a scalar
        (["title"], {}, ["title"]),  # a missing field
        (["a", "b"], None, ["a", "b"]),  # no body known: the location as it is
    ],
)
def test_body_pointer_keeps_only_what_the_client_sent(
    parts: list[str | int], body: Any, pointer: list[str]
) -> None:
    assert body_pointer(parts, body) == pointer
