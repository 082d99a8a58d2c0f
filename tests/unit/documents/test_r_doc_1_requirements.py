"""R-DOC-1 pure rules: what a step requires, read from the programme's data, against the
documents held; and what makes a programme's list of required documents inconsistent."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.documents.rules import Held, Line, ScanStatus, missing_documents
from app.documents.upload import detect_type, looks_like_csv
from app.programme.rules import Owner, Requirement, Step, requirement_problems, requirements
from app.programme.seed import REQUIRED_DOCUMENTS

FITN7 = requirements(REQUIRED_DOCUMENTS)
LINE_BIG = Line(id=uuid.uuid4(), label="Prestation d'accompagnement", amount_cents=2_000_000)
LINE_AT = Line(id=uuid.uuid4(), label="Licences", amount_cents=500_000)  # at the threshold
LINE_OVER = Line(id=uuid.uuid4(), label="Formation", amount_cents=500_001)  # one cent over


def held(kind: str, *, line: uuid.UUID | None = None, status: str = "clean") -> Held:
    owner = Owner.CANDIDATE if kind == "attestation" else Owner.PROJECT
    return Held(kind=kind, owner=owner, expense_line_id=line, scan_status=ScanStatus(status))


def check(
    docs: list[Held],
    *,
    step: Step = Step.SUBMISSION,
    lines: tuple[Line, ...] = (LINE_BIG, LINE_AT, LINE_OVER),
    candidate_kind: str = "commune",
    strand: str = "3a",
    production: bool = True,
    required: list[Requirement] = FITN7,
) -> list[tuple[str, str | None]]:
    return [
        (f.code, f.field)
        for f in missing_documents(
            required,
            step=step,
            strand=strand,
            candidate_kind=candidate_kind,
            lines=lines,
            held=docs,
            production=production,
        )
    ]


def test_r_doc_1_submission_names_the_deliberation_and_each_quote_above_the_threshold() -> None:
    assert check([]) == [
        ("R-DOC-1", "/documents/deliberation"),
        ("R-DOC-1", "/expense_lines/0/documents/quote"),
        ("R-DOC-1", "/expense_lines/2/documents/quote"),  # 5,000.01 €; 5,000 € needs none
    ]


def test_r_doc_1_a_complete_submission_lacks_nothing() -> None:
    docs = [
        held("deliberation"),
        held("quote", line=LINE_BIG.id),
        held("quote", line=LINE_OVER.id),
    ]
    assert check(docs) == []


def test_r_doc_1_a_quote_counts_for_its_own_line_only() -> None:
    docs = [held("deliberation"), held("quote", line=LINE_BIG.id), held("quote", line=None)]
    assert check(docs) == [("R-DOC-1", "/expense_lines/2/documents/quote")]


@pytest.mark.parametrize(
    ("status", "production", "counts", "says"),
    [
        ("clean", True, True, None),
        ("pending", True, False, "en cours d'analyse"),
        ("pending", False, False, "en cours d'analyse"),
        ("infected", False, False, "refusée par l'antivirus"),
        ("unscanned", False, True, None),  # no scanner outside production: served, so counted
        ("unscanned", True, False, "en cours d'analyse"),  # never in production
    ],
)
def test_r_doc_1_a_document_counts_once_it_may_be_served(
    status: str, production: bool, counts: bool, says: str | None
) -> None:
    docs = [held("deliberation", status=status)]
    failures = missing_documents(
        FITN7,
        step=Step.SUBMISSION,
        strand="3a",
        candidate_kind="commune",
        lines=(),
        held=docs,
        production=production,
    )
    assert (failures == []) is counts
    if says is not None:
        assert says in failures[0].message
        assert "Délibération" in failures[0].message


def test_r_doc_1_the_attestation_is_asked_of_a_public_body_only() -> None:
    docs = [held("deliberation")]
    assert check(docs, lines=(), candidate_kind="commune") == []
    assert check(docs, lines=(), candidate_kind="public_body") == [
        ("R-DOC-1", "/documents/attestation")
    ]
    assert check([*docs, held("attestation")], lines=(), candidate_kind="public_body") == []


def test_r_doc_1_each_step_asks_its_own_documents() -> None:
    assert check([], step=Step.CONVENTION) == [("R-DOC-1", "/documents/signed_convention")]
    assert check([], step=Step.FINAL_REPORT) == [
        ("R-DOC-1", "/documents/final_report"),
        ("R-DOC-1", "/documents/expense_statement"),
    ]
    assert check([held("signed_convention")], step=Step.CONVENTION) == []


def test_r_doc_1_a_requirement_limited_to_strands_applies_to_them_only() -> None:
    only_3b: dict[str, Any] = {**REQUIRED_DOCUMENTS[0], "code": "plan", "strands": ["3b"]}
    required = requirements([only_3b])
    assert check([], lines=(), strand="3a", required=required) == []
    assert check([], lines=(), strand="3b", required=required) == [("R-DOC-1", "/documents/plan")]


def test_r_doc_1_a_consistent_list_has_no_problem() -> None:
    assert requirement_problems(REQUIRED_DOCUMENTS, ["3a", "3b", "3c"]) == []


def test_r_doc_1_every_inconsistency_is_listed() -> None:
    twice = {**REQUIRED_DOCUMENTS[0]}
    unknown_strand = {**REQUIRED_DOCUMENTS[1], "code": "plan", "strands": ["3a", "9z"]}
    candidate_per_line = {**REQUIRED_DOCUMENTS[2], "per_line_above_cents": 100}
    problems = requirement_problems(
        [REQUIRED_DOCUMENTS[0], twice, unknown_strand, candidate_per_line], ["3a", "3b", "3c"]
    )
    assert [field for field, _ in problems] == [
        "/required_documents/1/code",
        "/required_documents/2/strands",
        "/required_documents/3/per_line_above_cents",
    ]
    assert "9z" in problems[1][1]


@pytest.mark.parametrize(
    ("head", "reads_as_csv"),
    [
        (b"siren;montant\n211300553;1000\n211300017;2000\n", True),
        (b"\xef\xbb\xbfsiren,montant,annee\n211300553,1000,2021\n", True),  # with a BOM
        (b"a\tb\n1\t2\n", True),
        (b"Bonjour,\nceci est une lettre, pas un tableau.\nCordialement\n", False),
        (b"une seule ligne;sans suite\n", False),
        (b"#!/bin/sh\nrm -rf /\n", False),
        (b"siren;montant\n\xff\xfe\x00garbage\n", False),  # not UTF-8
    ],
)
def test_r_doc_2_plain_text_is_csv_only_when_it_reads_as_one(
    head: bytes, reads_as_csv: bool
) -> None:
    assert looks_like_csv(head) is reads_as_csv
    assert (detect_type(head) == "text/csv") is reads_as_csv
