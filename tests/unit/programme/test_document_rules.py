"""R-PROG-1: `document_problems` lists every inconsistency of a programme document at once;
`programme_open_problems` says whether a programme takes dossiers."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from app.programme.rules import document_problems, programme_open_problems
from app.programme.schemas import ProgrammeDocument
from app.programme.seed import PROGRAMME_DEFAULTS
from app.programme.seed_nt2026 import NT2026


def document(seed: dict[str, Any] = NT2026) -> dict[str, Any]:
    """A seeded programme's document, as JSON (what the API receives)."""
    values = {name: copy.deepcopy(seed[name]) for name in ProgrammeDocument.model_fields}
    return json.loads(json.dumps(values, default=str))  # type: ignore[no-any-return]


SHARE = next(i for i, c in enumerate(NT2026["categories"]) if c["share_capped"])


def rules_of(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(field, rule) for field, rule, _ in document_problems(doc)]


@pytest.mark.parametrize("seed", [PROGRAMME_DEFAULTS, NT2026], ids=["fitn7", "nt2026"])
def test_r_prog_1_the_seeded_programmes_are_consistent(seed: dict[str, Any]) -> None:
    assert document_problems(document(seed)) == []
    ProgrammeDocument.model_validate(document(seed))  # and valid for the contract


def test_r_prog_1_every_problem_is_listed_at_once() -> None:
    doc = document()
    doc["window_closes_on"] = "2026-01-01"  # before the opening
    doc["extra_eu_licence_share_cap_bps"] = 10_000
    doc["categories"].append({**doc["categories"][0]})
    doc["forfaits"] = [{"label": "Départements", "kinds": ["departement"], "amount_cents": 1}]
    doc["required_documents"][0]["strands"] = ["socle", "inconnu"]
    assert rules_of(doc) == [
        ("/window_closes_on", "R-ELIG-7"),
        ("/extra_eu_licence_share_cap_bps", "R-EXCL-2"),
        (f"/categories/{len(doc['categories']) - 1}/code", "R-PROG-1"),
        ("/forfaits/0/kinds", "R-CAP-3"),
        ("/forfaits", "R-CAP-3"),  # and no strand applies forfaits
        ("/required_documents/0/strands", "R-DOC-1"),
    ]


def _change(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split("/")
    target: Any = doc
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[int(last) if isinstance(target, list) else last] = value


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("results_deadline", "2026-01-01", [("/results_deadline", "R-ELIG-5")]),
        # the deadline before the window's end: a late dossier could never be eligible
        ("results_deadline", "2027-01-01", [("/results_deadline", "R-ELIG-5")]),
        ("eligible_kinds", ["commune", "epci", "commune"], [("/eligible_kinds/2", "R-ELIG-1")]),
        ("strands/1/code", "socle", [("/strands/1/code", "R-PROG-1")]),
        ("strands/0/advisors", ["cour_des_comptes"], [("/strands/0/advisors/0", "R-EVAL-3")]),
        # a strand criterion reusing a general criterion's code (R-EVAL-1)
        (
            "strands/0/criteria/0/code",
            "utilite_usagers",
            [("/strands/0/criteria/0/code", "R-EVAL-1")],
        ),
        (
            "strands/0/criteria/1/code",
            "niveau_risque",
            [("/strands/0/criteria/1/code", "R-EVAL-1")],
        ),
        (f"categories/{SHARE}/excluded", True, [(f"/categories/{SHARE}", "R-EXCL-1")]),
        (
            "required_documents/0/candidate_kinds",
            ["region"],
            [("/required_documents/0/candidate_kinds", "R-DOC-1")],
        ),
    ],
)
def test_r_prog_1_each_inconsistency_names_its_rule_and_field(
    path: str, value: Any, expected: list[tuple[str, str]]
) -> None:
    doc = document()
    _change(doc, path, value)
    assert rules_of(doc) == expected


def test_r_cap_3_a_strand_with_forfaits_needs_every_admitted_kind_covered() -> None:
    doc = document()
    doc["strands"][0]["forfaits"] = True
    doc["forfaits"] = [{"label": "Communes", "kinds": ["commune"], "amount_cents": 500_000}]
    assert document_problems(doc) == [
        ("/forfaits", "R-CAP-3", "Catégorie éligible sans forfait : epci.")
    ]
    # covered against the programme's own kinds, not every kind the service knows
    doc["forfaits"][0]["kinds"] = ["commune", "epci"]
    assert document_problems(doc) == []


def test_r_exc_2_a_share_capped_category_under_a_zero_cap_is_consistent() -> None:
    doc = document()
    doc["extra_eu_licence_share_cap_bps"] = 0  # no extra-EU purchase of it is ever eligible
    assert document_problems(doc) == []


def test_r_prog_1_fitn7_forfaits_left_without_a_kind_are_refused() -> None:
    doc = document(PROGRAMME_DEFAULTS)
    doc["forfaits"] = doc["forfaits"][:-1]
    assert {rule for _, rule in rules_of(doc)} == {"R-CAP-3"}


@pytest.mark.parametrize(
    ("status", "codes"), [("published", []), ("draft", ["R-PROG-1"]), ("closed", ["R-PROG-1"])]
)
def test_r_prog_1_only_a_published_programme_takes_dossiers(status: str, codes: list[str]) -> None:
    assert [f.code for f in programme_open_problems(status)] == codes
