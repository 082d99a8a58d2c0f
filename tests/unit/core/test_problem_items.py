"""errors[] items are {code, field, in, message} (issue 12; STYLE.md, errors): `field` is a JSON
pointer into the body (`/strand`, never `body:/strand`) or a parameter's name, `in` says where."""

from __future__ import annotations

import pytest

from app.core.errors import ProblemItem
from app.core.exception_handlers import _where, json_pointer


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        (("body", "strand"), ("body", "/strand")),
        (("body", "expense_lines", 0, "label"), ("body", "/expense_lines/0/label")),
        (("body", "scores", "a/b~c"), ("body", "/scores/a~1b~0c")),  # RFC 6901 escapes
        (("body",), ("body", "")),  # the whole body
        (("query", "updated_since"), ("query", "updated_since")),
        (("path", "departement"), ("path", "departement")),
        (("header", "If-Match"), ("header", "If-Match")),
        (("cookie", "session"), ("header", "Cookie")),
    ],
)
def test_a_validation_error_is_located_by_in_and_a_pointer(
    loc: tuple[int | str, ...], expected: tuple[str, str]
) -> None:
    assert _where(loc) == expected


def test_json_pointer_of_no_key_is_the_whole_document() -> None:
    assert json_pointer([]) == ""
    assert json_pointer(["a", "0"]) == "/a/0"


def test_an_item_always_carries_its_four_keys() -> None:
    item = ProblemItem(code="R-PAY-3", message="Date future.", field="/paid_on")
    assert item.model_dump(by_alias=True, exclude_none=True) == {
        "code": "R-PAY-3",
        "message": "Date future.",
        "field": "/paid_on",
        "in": "body",
    }
    bare = ProblemItem(code="R-COM-3", message="Dossier non décidé.")
    assert set(bare.model_dump(by_alias=True, exclude_none=True)) == {
        "code",
        "field",
        "in",
        "message",
    }
