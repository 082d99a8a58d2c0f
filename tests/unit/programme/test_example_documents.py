"""R-PROG-1: the programme document the README posts (examples/programmes/) is the seed data's
second call, field for field, and is consistent (no problem for `document_problems`)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from app.programme.rules import document_problems
from app.programme.schemas import ProgrammeDocument
from app.programme.seed_nt2026 import NT2026

EXAMPLE = (
    Path(__file__).resolve().parents[3] / "examples/programmes/numerique-territoires-2026.json"
)


def test_r_prog_1_the_readme_document_is_the_seeded_second_call() -> None:
    posted = json.loads(EXAMPLE.read_text())
    seeded = {
        name: value.isoformat() if isinstance(value, date) else value
        for name, value in NT2026.items()
        if name != "status"  # a posted document is a draft until DINUM publishes it
    }
    assert posted == seeded


def test_r_prog_1_the_readme_document_is_consistent() -> None:
    document = ProgrammeDocument.model_validate(json.loads(EXAMPLE.read_text()))  # its schema
    assert document_problems(document.model_dump(mode="json")) == []
