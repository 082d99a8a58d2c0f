"""Pure rules of evaluations: scores against a grid (R-EVAL-1, R-EVAL-2), the weighted total,
who may evaluate what (R-EVAL-3), who reads them (R-EVAL-4), evaluations of another strand
(R-EVAL-5), the mean that orders a committee's agenda."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction

from app.core.rules import RuleFailure
from app.projects.lifecycle_rules import EVALUABLE, STATUS_LABELS_FR, Status

MIN_SCORE = 0
MAX_SCORE = 5
CENTI = 100
# R-EVAL-2: while the dossier is being instructed; a committee's close moves it out of
# in_review (accepted/rejected), which ends the evaluations without importing committees. The
# lifecycle's own table (app.projects.lifecycle_rules.EVALUABLE), which `allowed_actions` reads too.
EVALUABLE_STATUSES = frozenset(status.value for status in EVALUABLE)


class EvaluationStatus(StrEnum):
    """État d'une évaluation : `void` (caduque) quand son dossier, renvoyé, a changé de volet
    depuis : lisible, hors de toute moyenne, non modifiable (R-EVAL-5)."""

    ACTIVE = "active"
    VOID = "void"


class Recommendation(StrEnum):
    FUND = "fund"
    FUND_WITH_CHANGES = "fund_with_changes"
    REJECT = "reject"


@dataclass(frozen=True)
class WeightedCriterion:
    code: str
    weight: int


def grid_criteria(snapshot: Iterable[Mapping[str, object]]) -> tuple[WeightedCriterion, ...]:
    """The (code, weight) pairs of a stored grid snapshot (app.programme.rules.grid_snapshot)."""
    return tuple(WeightedCriterion(str(c["code"]), int(str(c["weight"]))) for c in snapshot)


def score_failures(
    scores: Mapping[str, int], grid: Sequence[WeightedCriterion]
) -> list[RuleFailure]:
    """R-EVAL-1/R-EVAL-2: every criterion of the grid scored 0–5, none missing, none unknown.

    One failure per offending code, its field a JSON pointer into the body (/scores/<code>).
    """
    known = {c.code for c in grid}
    failures = [
        RuleFailure(
            "R-EVAL-1",
            f"Critère « {c.code} » de la grille non noté : chaque critère reçoit une note de "
            f"{MIN_SCORE} à {MAX_SCORE}.",
            f"/scores/{_pointer(c.code)}",
        )
        for c in grid
        if c.code not in scores
    ]
    for code, score in scores.items():
        if code not in known:
            failures.append(
                RuleFailure(
                    "R-EVAL-1",
                    f"Critère « {code} » inconnu de la grille de ce volet.",
                    f"/scores/{_pointer(code)}",
                )
            )
        elif not MIN_SCORE <= score <= MAX_SCORE:
            failures.append(
                RuleFailure(
                    "R-EVAL-2",
                    f"La note du critère « {code} » doit être comprise entre {MIN_SCORE} et "
                    f"{MAX_SCORE}.",
                    f"/scores/{_pointer(code)}",
                )
            )
    return failures


def _pointer(code: str) -> str:
    """A key as a JSON pointer token (RFC 6901)."""
    return code.replace("~", "~0").replace("/", "~1")


def half_up(value: Fraction, places: int = 2) -> Decimal:
    """`value` rounded half-up (a tie away from zero) to `places` decimals, exactly."""
    sign = -1 if value < 0 else 1
    steps = abs(value) * 10**places
    rounded = int(steps + Fraction(1, 2))  # int() of a positive Fraction is its floor
    return Decimal(sign * rounded).scaleb(-places)


def exact_total(scores: Mapping[str, int], grid: Sequence[WeightedCriterion]) -> Fraction:
    """R-EVAL-2: Σ(weight × score) / Σ weight on the 0–5 scale, exactly (R-EVAL-5: the mean
    is taken over these unrounded totals).

    The grid's weights are ≥ 1 (R-EVAL-1), so Σ weight > 0.
    """
    weights = sum(c.weight for c in grid)
    if weights <= 0:
        raise ValueError("a grid has at least one criterion of weight ≥ 1 (R-EVAL-1)")
    return Fraction(sum(c.weight * scores[c.code] for c in grid), weights)


def weighted_total(scores: Mapping[str, int], grid: Sequence[WeightedCriterion]) -> Decimal:
    """R-EVAL-2: the weighted total shown, rounded half-up to 0.01."""
    return half_up(exact_total(scores, grid))


def to_centi(total: Decimal) -> int:
    """A total with two decimals in hundredths of a point: Decimal("3.45") → 345."""
    return int(total.scaleb(2).to_integral_value(rounding=ROUND_HALF_UP))


def mean_centi(totals: Sequence[Fraction]) -> int | None:
    """R-EVAL-3, R-EVAL-5: the mean of these unrounded totals, rounded half-up once to the
    hundredth, in hundredths of a point (None when there is none)."""
    if not totals:
        return None
    return to_centi(half_up(sum(totals, Fraction(0)) / len(totals)))


class EvaluatorKind(StrEnum):
    PREFECTURE = "prefecture"
    ADVISORY = "advisory"  # ANCT (R-EVAL-3)


@dataclass(frozen=True)
class MayEvaluate:
    """Whether a role may evaluate a dossier of a strand, and if so, as what."""

    kind: EvaluatorKind | None
    failure: RuleFailure | None = None


def evaluator_kind(role: str, strand: str, advisors: Collection[str]) -> MayEvaluate:
    """R-EVAL-3: the prefect evaluates (its département's scope is checked by the caller);
    an advisory evaluator (ANCT) evaluates, as advisory only, the dossiers of the strands
    whose `advisors` name it (the programme's data); nobody else evaluates."""
    if role == "prefect":
        return MayEvaluate(EvaluatorKind.PREFECTURE)
    if role == "anct":
        if role in advisors:
            return MayEvaluate(EvaluatorKind.ADVISORY)
        return MayEvaluate(
            None,
            RuleFailure(
                "R-EVAL-3",
                "L'ANCT n'évalue que les dossiers des volets dont le programme lui confie "
                f"l'évaluation consultative (ce dossier relève du volet {strand}, qui ne la "
                "lui confie pas).",
            ),
        )
    return MayEvaluate(
        None,
        RuleFailure(
            "R-EVAL-3",
            "Seuls la préfecture et l'ANCT (sur les volets que le programme lui confie) évaluent.",
        ),
    )


def status_failure(status: str) -> RuleFailure | None:
    """R-EVAL-2: a dossier is evaluated (and its evaluations edited) while submitted or in
    review, until a committee decides it."""
    if status in EVALUABLE_STATUSES:
        return None
    return RuleFailure(
        "R-EVAL-2",
        f"Le dossier est « {STATUS_LABELS_FR[Status(status)]} » : il ne s'évalue (et son "
        "évaluation ne se modifie) que déposé ou en instruction, jusqu'à la clôture du comité "
        "(R-EVAL-2).",
    )


def void_failure(status: str) -> RuleFailure | None:
    """R-EVAL-5: a void evaluation (its dossier changed strand since) is no longer edited."""
    if status != EvaluationStatus.VOID:
        return None
    return RuleFailure(
        "R-EVAL-5",
        "Cette évaluation est caduque : le dossier a changé de volet depuis. Elle reste "
        "lisible mais ne se modifie plus ; évaluez le dossier sur la grille de son volet "
        "(R-EVAL-5).",
    )


def edit_strand_failure(role: str, strand: str, advisors: Collection[str]) -> RuleFailure | None:
    """R-EVAL-5 (with R-EVAL-3): ANCT edits its evaluation only while the dossier is on a
    strand that names it as advisor, as it creates one only there."""
    failure = evaluator_kind(role, strand, advisors).failure
    if failure is None:
        return None
    return RuleFailure("R-EVAL-5", f"{failure.message} Son évaluation ne se modifie plus.")


def recusal_final_failure(
    *, was_recused: bool, recused: bool, gives_scores: bool
) -> RuleFailure | None:
    """R-EVAL-2: a recusal is final: it cannot later be turned into scores (nor given a
    score or a recommendation); scores may still become a recusal."""
    if not was_recused or (recused and not gives_scores):
        return None
    return RuleFailure(
        "R-EVAL-2",
        "Vous vous êtes déporté sur ce dossier (conflit d'intérêts) : un déport est définitif, "
        "il ne se change pas en notes (R-EVAL-2).",
    )


def reader_failure(role: str) -> RuleFailure | None:
    """R-EVAL-4: evaluations are invisible to candidates."""
    if role != "candidate":
        return None
    return RuleFailure("R-EVAL-4", "Les évaluations ne sont jamais communiquées aux candidats.")


def second_evaluation_failure(already_evaluated: bool) -> RuleFailure | None:
    """R-EVAL-2: one evaluation per evaluator and dossier (the second one edits the first)."""
    if not already_evaluated:
        return None
    return RuleFailure(
        "R-EVAL-2",
        "Vous avez déjà évalué ce dossier : modifiez votre évaluation (une par évaluateur, "
        "R-EVAL-2).",
    )


def evaluate_refusal(
    *,
    role: str,
    strand: str,
    status: str,
    already_evaluated: bool,
    advisors: Collection[str],
) -> RuleFailure | None:
    """Whether this evaluator may evaluate this dossier now: the first rule that refuses it
    (R-EVAL-3: who, on which strand; R-EVAL-2: while submitted or in review, once per
    evaluator), or None. The service runs these checks in this order (403, then 409);
    `allowed_actions` offers `evaluate` when it is None (issue 12)."""
    return (
        evaluator_kind(role, strand, advisors).failure
        or status_failure(status)
        or second_evaluation_failure(already_evaluated)
    )


def evaluation_failures(
    *,
    recused: bool,
    scores: Mapping[str, int] | None,
    recommendation: str | None,
    grid: Sequence[WeightedCriterion],
) -> list[RuleFailure]:
    """R-EVAL-2: a recused evaluator sends neither scores nor recommendation; any other one
    scores every criterion of the grid (R-EVAL-1) and recommends."""
    if recused:
        return [
            RuleFailure(
                "R-EVAL-2",
                f"Déport pour conflit d'intérêts : pas de {label} (retirez le champ).",
                field,
            )
            for label, field, value in (
                ("notes", "/scores", scores),
                ("recommandation", "/recommendation", recommendation),
            )
            if value is not None
        ]
    failures = score_failures(scores or {}, grid)
    if recommendation is None:
        failures.append(
            RuleFailure(
                "R-EVAL-2",
                "Une recommandation est requise : fund, fund_with_changes ou reject.",
                "/recommendation",
            )
        )
    return failures
