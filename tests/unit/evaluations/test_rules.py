"""Pure evaluation rules in tables: the weighted total (R-EVAL-2), scores against a grid
(R-EVAL-1), recusal (R-EVAL-2), who evaluates (R-EVAL-3), who reads (R-EVAL-4), void
evaluations and the mean (R-EVAL-3, R-EVAL-5). No DB, no app."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from app.evaluations.rules import (
    EvaluationStatus,
    EvaluatorKind,
    WeightedCriterion as W,
    edit_strand_failure,
    evaluation_failures,
    evaluator_kind,
    grid_criteria,
    half_up,
    mean_centi,
    reader_failure,
    recusal_final_failure,
    score_failures,
    to_centi,
    void_failure,
    weighted_total,
)
from app.programme.rules import grid_snapshot, shared_criterion_codes
from app.programme.seed import GENERAL_CRITERIA, STRANDS
from app.projects.display import centi_text
from tests.unit.projects.fitn7 import ADVISORS

GRID = (W("a", 30), W("b", 25), W("c", 20), W("d", 25))


def all_scores(value: int, **overrides: int) -> dict[str, int]:
    return {**{c.code: value for c in GRID}, **overrides}


@pytest.mark.parametrize(
    ("scores", "grid", "expected"),
    [
        (all_scores(3), GRID, "3.00"),
        (all_scores(0), GRID, "0.00"),
        (all_scores(5), GRID, "5.00"),
        (all_scores(3, a=5), GRID, "3.60"),  # (300 + 60) / 100
        (all_scores(3, b=4, c=2), GRID, "3.05"),  # (300 + 25 − 20) / 100
        # Ties go up (half-up), never to the even neighbour: 1/40 = 0.025 → 0.03.
        ({"x": 1}, (W("x", 1), W("y", 39)), "0.03"),
        ({"x": 0, "y": 1}, (W("x", 1), W("y", 39)), "0.98"),  # 39/40 = 0.975 → 0.98
        ({"x": 2, "y": 1}, (W("x", 1), W("y", 7)), "1.13"),  # 9/8 = 1.125 → 1.13
        ({"x": 1, "y": 0}, (W("x", 1), W("y", 2)), "0.33"),  # 1/3 → 0.33 (down)
        ({"x": 2, "y": 0}, (W("x", 1), W("y", 2)), "0.67"),  # 2/3 → 0.67 (up)
        ({"x": 4}, (W("x", 7),), "4.00"),  # a single criterion: its score
        ({"x": 3}, (W("x", 1),), "3.00"),  # Σ weight = 1, the least a grid may weigh
        # Large weights stay exact: 3 × 99 + 4 × 1 = 301 over 100.
        ({"x": 3, "y": 4}, (W("x", 99), W("y", 1)), "3.01"),
    ],
)
def test_r_eval_2_weighted_total_two_decimals_half_up(
    scores: dict[str, int], grid: tuple[W, ...], expected: str
) -> None:
    scores = {**dict.fromkeys((c.code for c in grid), 0), **scores}
    total = weighted_total(scores, grid)
    assert str(total) == expected
    assert centi_text(to_centi(total)) == expected


def test_r_eval_2_weighted_total_refuses_a_grid_without_weight() -> None:
    with pytest.raises(ValueError, match="R-EVAL-1"):
        weighted_total({}, ())


@pytest.mark.parametrize(
    ("total", "centi"),
    [(Decimal("3.45"), 345), (Decimal("0.125"), 13), (Decimal("3.455"), 346), (Decimal(5), 500)],
)
def test_r_eval_2_to_centi_rounds_half_up_never_to_even(total: Decimal, centi: int) -> None:
    # A total past two decimals rounds half-up like every score (0.125 → 13, not 12).
    assert to_centi(total) == centi


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Fraction(3445, 1000), Decimal("3.45")),
        (Fraction(3455, 1000), Decimal("3.46")),
        (Fraction(3454999, 1000000), Decimal("3.45")),
        (Fraction(-3455, 1000), Decimal("-3.46")),  # away from zero
        (Fraction(0), Decimal("0.00")),
        (Fraction(5), Decimal("5.00")),
    ],
)
def test_half_up_is_exact(value: Fraction, expected: Decimal) -> None:
    assert half_up(value) == expected
    assert str(half_up(value)) == str(expected)


@pytest.mark.parametrize(
    ("centi", "text"), [(0, "0.00"), (5, "0.05"), (345, "3.45"), (500, "5.00"), (None, None)]
)
def test_centi_text(centi: int | None, text: str | None) -> None:
    assert centi_text(centi) == text


def centis(*values: int) -> list[Fraction]:
    return [Fraction(v, 100) for v in values]


@pytest.mark.parametrize(
    ("totals", "expected"),
    [
        ([], None),
        (centis(300), 300),
        (centis(300, 460), 380),
        (centis(303, 300), 302),  # 301.5 → 302 (half-up)
        (centis(301, 300), 301),  # 300.5 → 301
        (centis(100, 100, 101), 100),  # 100.33 → 100
        (centis(100, 101, 101), 101),  # 100.67 → 101
        (centis(*[500] * 7), 500),
    ],
)
def test_r_eval_3_mean_in_hundredths_half_up(totals: list[Fraction], expected: int | None) -> None:
    assert mean_centi(totals) == expected


def test_r_eval_5_mean_of_unrounded_totals_is_rounded_once() -> None:
    """R-EVAL-5: 1.025 and 1.075 (each shown rounded: 1.03, 1.08) have the mean 1.05; the
    mean of the rounded totals would be 1.055 → 1.06."""
    totals = [Fraction(1025, 1000), Fraction(1075, 1000)]
    assert [to_centi(half_up(t)) for t in totals] == [103, 108]
    assert mean_centi(totals) == 105
    # A third of a point is never rounded before the mean: (1/3 + 1/3 + 1/3) / 3 = 0.33.
    assert mean_centi([Fraction(1, 3)] * 3) == 33
    assert mean_centi([Fraction(1, 6), Fraction(1, 6)]) == 17  # 0.1666… → 0.17


def fields(failures: list) -> list[tuple[str, str | None]]:  # type: ignore[type-arg]
    return [(f.code, f.field) for f in failures]


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        (all_scores(3), []),
        # R-EVAL-2: both bounds of 0–5 are scores, one step past either is not
        (all_scores(0), []),
        (all_scores(5), []),
        (all_scores(0, c=5), []),
        ({"a": 1, "b": 2, "c": 3}, [("R-EVAL-1", "/scores/d")]),
        ({}, [("R-EVAL-1", f"/scores/{c}") for c in "abcd"]),
        (all_scores(3, z=1), [("R-EVAL-1", "/scores/z")]),
        (all_scores(3, **{"a/b": 1}), [("R-EVAL-1", "/scores/a~1b")]),  # RFC 6901 escape
        (all_scores(3, **{"a~b": 1}), [("R-EVAL-1", "/scores/a~0b")]),
        (all_scores(3, **{"~/": 1}), [("R-EVAL-1", "/scores/~0~1")]),
        (all_scores(3, a=6), [("R-EVAL-2", "/scores/a")]),
        (all_scores(3, b=-1), [("R-EVAL-2", "/scores/b")]),
        (
            {"a": 9, "z": 1},
            [
                *(("R-EVAL-1", f"/scores/{c}") for c in "bcd"),
                ("R-EVAL-2", "/scores/a"),
                ("R-EVAL-1", "/scores/z"),
            ],
        ),
    ],
)
def test_r_eval_1_every_criterion_scored_none_unknown(
    scores: dict[str, int], expected: list[tuple[str, str]]
) -> None:
    assert fields(score_failures(scores, GRID)) == expected


@pytest.mark.parametrize(
    ("recused", "scores", "recommendation", "expected"),
    [
        (True, None, None, []),
        (True, all_scores(3), None, [("R-EVAL-2", "/scores")]),
        (True, {}, "fund", [("R-EVAL-2", "/scores"), ("R-EVAL-2", "/recommendation")]),
        (False, all_scores(3), "fund", []),
        (False, all_scores(3), None, [("R-EVAL-2", "/recommendation")]),
        (False, None, "reject", [("R-EVAL-1", f"/scores/{c}") for c in "abcd"]),
    ],
)
def test_r_eval_2_recusal_without_scores_else_complete(
    recused: bool,
    scores: dict[str, int] | None,
    recommendation: str | None,
    expected: list[tuple[str, str]],
) -> None:
    failures = evaluation_failures(
        recused=recused, scores=scores, recommendation=recommendation, grid=GRID
    )
    assert fields(failures) == expected
    assert all(f.message for f in failures)


def test_r_eval_2_a_recused_evaluator_is_told_which_field_to_remove() -> None:
    failures = evaluation_failures(recused=True, scores={}, recommendation="fund", grid=GRID)
    messages = {f.field: f.message for f in failures}
    assert "pas de notes (" in messages["/scores"]
    assert "pas de recommandation (" in messages["/recommendation"]


@pytest.mark.parametrize(
    ("role", "strand", "kind", "code"),
    [
        ("prefect", "3a", EvaluatorKind.PREFECTURE, None),
        ("prefect", "3b", EvaluatorKind.PREFECTURE, None),
        ("prefect", "3c", EvaluatorKind.PREFECTURE, None),
        ("anct", "3b", EvaluatorKind.ADVISORY, None),
        ("anct", "3a", None, "R-EVAL-3"),
        ("anct", "3c", None, "R-EVAL-3"),
        ("dinum", "3b", None, "R-EVAL-3"),
        ("candidate", "3b", None, "R-EVAL-3"),
    ],
)
def test_r_eval_3_who_evaluates(
    role: str, strand: str, kind: EvaluatorKind | None, code: str | None
) -> None:
    may = evaluator_kind(role, strand, ADVISORS[strand])  # FITN7: ANCT advises on 3b
    assert may.kind == kind
    assert (may.failure.code if may.failure else None) == code


def test_r_eval_1_a_grid_snapshot_keeps_each_criterion_whole() -> None:
    # The snapshot frozen on the dossier is what evaluators read: code, label, weight, group.
    general = [{"code": "g", "label": "Pertinence", "weight": "30"}]
    strand = [{"code": "s", "label": "Impact", "weight": 40}]
    assert grid_snapshot(general, strand) == [
        {"code": "g", "label": "Pertinence", "weight": 30, "group": "general"},
        {"code": "s", "label": "Impact", "weight": 40, "group": "strand"},
    ]


def test_r_eval_1_seeded_grids_are_general_then_strand_with_positive_weights() -> None:
    for strand in STRANDS:
        snapshot = grid_snapshot(GENERAL_CRITERIA, strand["criteria"])
        assert [c["group"] for c in snapshot] == ["general"] * 4 + ["strand"] * len(
            strand["criteria"]
        )
        criteria = grid_criteria(snapshot)
        assert all(c.weight >= 1 for c in criteria)
        assert len({c.code for c in criteria}) == len(criteria)
        assert weighted_total({c.code: 5 for c in criteria}, criteria) == Decimal("5.00")


@pytest.mark.parametrize(
    ("general", "strands", "expected"),
    [
        (["a", "b"], [["c"], ["d", "e"]], []),
        (["a", "b"], [["c"], ["a"]], [("strands/1/criteria", 0, "a")]),
        (["a", "a"], [["c"]], [("general_criteria", 1, "a")]),
        (
            ["a"],
            [["b", "a"], ["a"]],
            [("strands/0/criteria", 1, "a"), ("strands/1/criteria", 0, "a")],
        ),
    ],
)
def test_r_eval_1_a_code_appears_once_in_a_strand_grid(
    general: list[str], strands: list[list[str]], expected: list[tuple[str, int, str]]
) -> None:
    assert (
        shared_criterion_codes(
            [{"code": c} for c in general],
            [{"criteria": [{"code": c} for c in codes]} for codes in strands],
        )
        == expected
    )


def test_r_eval_2_a_recusal_is_final() -> None:
    assert recusal_final_failure(was_recused=False, recused=False, gives_scores=True) is None
    assert recusal_final_failure(was_recused=False, recused=True, gives_scores=False) is None
    assert recusal_final_failure(was_recused=True, recused=True, gives_scores=False) is None
    for recused, gives_scores in ((False, False), (False, True), (True, True)):
        failure = recusal_final_failure(
            was_recused=True, recused=recused, gives_scores=gives_scores
        )
        assert failure is not None and failure.code == "R-EVAL-2"


def test_r_eval_5_a_void_evaluation_is_not_edited() -> None:
    assert void_failure(EvaluationStatus.ACTIVE) is None
    failure = void_failure(EvaluationStatus.VOID)
    assert failure is not None and failure.code == "R-EVAL-5"


@pytest.mark.parametrize(
    ("role", "strand", "refused"),
    [("anct", "3b", False), ("anct", "3c", True), ("anct", "3a", True), ("prefect", "3c", False)],
)
def test_r_eval_5_anct_edits_only_on_a_3b_dossier(role: str, strand: str, refused: bool) -> None:
    failure = edit_strand_failure(role, strand, ADVISORS[strand])
    assert (failure is not None) is refused
    assert failure is None or failure.code == "R-EVAL-5"


@pytest.mark.parametrize(
    ("role", "refused"),
    [("candidate", True), ("prefect", False), ("dinum", False), ("anct", False)],
)
def test_r_eval_4_candidates_read_no_evaluation(role: str, refused: bool) -> None:
    failure = reader_failure(role)
    assert (failure is not None) is refused
    assert failure is None or failure.code == "R-EVAL-4"
