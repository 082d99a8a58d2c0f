"""The contract's NOT_BLANK_PATTERN and the server's blank check (`strip()`) agree on every
character, so that a text the contract calls valid is never refused as blank, and back."""

from __future__ import annotations

import re
import sys
from typing import Annotated

import pytest
from pydantic import BaseModel, ValidationError

from app.core.schemas import NOT_BLANK_PATTERN, WHITESPACE_CLASS, not_blank

PATTERN = re.compile(NOT_BLANK_PATTERN)


def test_the_whitespace_class_is_exactly_what_strip_removes() -> None:
    spelled = re.compile(f"[{WHITESPACE_CLASS}]")
    every = (chr(c) for c in range(sys.maxunicode + 1))
    disagree = [hex(ord(ch)) for ch in every if bool(spelled.fullmatch(ch)) != ch.isspace()]
    assert disagree == []


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("a", True),
        ("  a  ", True),
        ("\u3000x\u3000", True),
        ("", False),
        (" ", False),
        ("\t\u001d\n", False),
        ("\u00a0\u2028\u3000", False),
        ("\u200b", True),  # a zero-width space is no whitespace for str.isspace()
    ],
)
def test_pattern_and_validator_agree(text: str, valid: bool) -> None:
    assert bool(PATTERN.search(text)) is valid

    class Model(BaseModel):
        value: Annotated[str, not_blank()]

    if valid:
        assert Model(value=text).value == text  # kept as sent
    else:
        with pytest.raises(ValidationError) as error:
            Model(value=text)
        assert error.value.errors()[0]["type"] == "blank"


def test_the_contract_states_the_pattern() -> None:
    class Model(BaseModel):
        value: Annotated[str, not_blank("R-ELIG-3")]

    assert Model.model_json_schema()["properties"]["value"]["pattern"] == NOT_BLANK_PATTERN
