"""Pure rules on programme data: which forfait applies (R-CAP-3), which documents a step
requires (R-DOC-1), what is inconsistent in a programme document and whether a programme takes
dossiers (R-PROG-1)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Protocol

from app.core.rules import RuleFailure


class Step(StrEnum):
    """Étape de la vie du dossier à laquelle une pièce est demandée (R-DOC-1)."""

    SUBMISSION = "submission"
    CONVENTION = "convention"
    FINAL_REPORT = "final_report"


class Owner(StrEnum):
    """Ce qui porte la pièce : le dossier, ou le candidat (son attestation, R-ELIG-1)."""

    PROJECT = "project"
    CANDIDATE = "candidate"


# R-DOC-2: the types the service can read from a document's bytes and store; a programme allows
# a subset of them per kind of document.
DOCUMENT_TYPES: dict[str, str] = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "application/vnd.oasis.opendocument.text": "ODT",
    "application/vnd.oasis.opendocument.spreadsheet": "ODS",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "DOCX",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX",
    "text/csv": "CSV",
}


@dataclass(frozen=True)
class Requirement:
    """One kind of document the programme asks for (R-DOC-1), read from its data."""

    code: str
    label: str
    owner: Owner
    step: Step
    strands: tuple[str, ...] | None  # None: every strand
    candidate_kinds: tuple[str, ...] | None  # None: every candidate
    per_line_above_cents: int | None  # a document per expense line above it; None: once
    allowed_types: tuple[str, ...]
    max_bytes: int

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Requirement:
        return cls(
            code=str(data["code"]),
            label=str(data["label"]),
            owner=Owner(data["owner"]),
            step=Step(data["step"]),
            strands=tuple(data["strands"]) if data.get("strands") is not None else None,
            candidate_kinds=(
                tuple(data["candidate_kinds"]) if data.get("candidate_kinds") is not None else None
            ),
            per_line_above_cents=data.get("per_line_above_cents"),
            allowed_types=tuple(data["allowed_types"]),
            max_bytes=int(data["max_bytes"]),
        )

    @property
    def per_line(self) -> bool:
        return self.per_line_above_cents is not None

    def applies(self, *, strand: str | None, candidate_kind: str | None) -> bool:
        """Whether a dossier of this strand, filed by this kind of candidate, needs it."""
        return (self.strands is None or strand in self.strands) and (
            self.candidate_kinds is None or candidate_kind in self.candidate_kinds
        )


def requirements(data: Iterable[Mapping[str, Any]]) -> list[Requirement]:
    """The programme's `required_documents`, parsed."""
    return [Requirement.of(item) for item in data]


def requirement_problems(
    data: Sequence[Mapping[str, Any]], strand_codes: Iterable[str]
) -> list[tuple[str, str]]:
    """R-DOC-1: what is inconsistent in a list of required documents, as (pointer, message):
    a code used twice, a strand the programme does not have, a per-line candidate document."""
    known = set(strand_codes)
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, item in enumerate(data):
        code = str(item["code"])
        if code in seen:
            problems.append((f"/required_documents/{i}/code", f"code « {code} » en double."))
        seen.add(code)
        unknown = sorted(set(item.get("strands") or ()) - known)
        if unknown:
            problems.append(
                (f"/required_documents/{i}/strands", f"volet(s) inconnu(s) : {', '.join(unknown)}.")
            )
        if item["owner"] == Owner.CANDIDATE and item.get("per_line_above_cents") is not None:
            problems.append(
                (
                    f"/required_documents/{i}/per_line_above_cents",
                    "une pièce du candidat ne vise pas une ligne de dépense.",
                )
            )
    return problems


def select_forfait(
    tiers: Sequence[Mapping[str, Any]],
    *,
    kind: str,
    population: int | None,
    epci_type: str | None,
) -> Mapping[str, Any] | None:
    """R-CAP-3: the first tier matching the candidate's kind, EPCI type and population.

    A tier with `population_below` matches only a known population strictly below it.
    """
    for tier in tiers:
        if kind not in tier["kinds"]:
            continue
        epci_types = tier.get("epci_types")
        if epci_types and epci_type not in epci_types:
            continue
        below = tier.get("population_below")
        if below is not None and (population is None or population >= below):
            continue
        return tier
    return None


def uncovered_kinds(tiers: Sequence[Mapping[str, Any]], kinds: Iterable[str]) -> list[str]:
    """R-CAP-3: the kinds no forfait reaches whatever their population or EPCI type.

    A kind is covered when one of its tiers has neither a population threshold nor an EPCI
    type restriction (a candidate of unknown population or of another EPCI type falls there).
    """
    covered = {
        kind
        for tier in tiers
        if not tier.get("epci_types") and tier.get("population_below") is None
        for kind in tier["kinds"]
    }
    return sorted(kind for kind in kinds if kind not in covered)


def grid_snapshot(
    general: Sequence[Mapping[str, Any]], strand: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """R-EVAL-1: a strand's grid, the general criteria first, each with its weight and group."""
    return [
        {"code": c["code"], "label": c["label"], "weight": int(c["weight"]), "group": group}
        for group, criteria in (("general", general), ("strand", strand))
        for c in criteria
    ]


def shared_criterion_codes(
    general: Sequence[Mapping[str, Any]], strands: Sequence[Mapping[str, Any]]
) -> list[tuple[str, int, str]]:
    """R-EVAL-1: (where, index, code) of every criterion code a strand's grid would hold twice:
    a general code repeated (where = "general_criteria", index in it) or a strand criterion
    reusing a general code (where = "strands/<i>/criteria", index in the strand)."""
    clashes: list[tuple[str, int, str]] = []
    seen: set[str] = set()
    for position, criterion in enumerate(general):
        if criterion["code"] in seen:
            clashes.append(("general_criteria", position, criterion["code"]))
        seen.add(criterion["code"])
    for index, strand in enumerate(strands):
        for position, criterion in enumerate(strand["criteria"]):
            if criterion["code"] in seen:
                clashes.append((f"strands/{index}/criteria", position, criterion["code"]))
    return clashes


# R-EVAL-3: the advisory evaluators a strand may name (their role reads the strand's dossiers).
ADVISORS = ("anct",)
BPS = 10_000

Problem = tuple[str, str, str]  # (JSON pointer, rule id, French message)


def _day(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _duplicates(values: Sequence[Any]) -> list[int]:
    """The positions of the values already seen earlier in `values`."""
    seen: set[Any] = set()
    repeated = []
    for position, value in enumerate(values):
        if value in seen:
            repeated.append(position)
        seen.add(value)
    return repeated


def _date_problems(doc: Mapping[str, Any]) -> list[Problem]:
    opens, closes = _day(doc.get("window_opens_on")), _day(doc.get("window_closes_on"))
    deadline = _day(doc.get("results_deadline"))
    problems: list[Problem] = []
    if opens is not None and closes is not None and closes < opens:
        problems.append(
            ("/window_closes_on", "R-ELIG-7", "La date de clôture précède l'ouverture du guichet.")
        )
    if deadline is not None and opens is not None and deadline < opens:
        problems.append(
            ("/results_deadline", "R-ELIG-5", "La date limite de résultats précède l'ouverture.")
        )
    elif deadline is not None and closes is not None and deadline < closes:
        problems.append(
            (
                "/results_deadline",
                "R-ELIG-5",
                "La date limite de résultats précède la clôture du guichet : un dossier déposé "
                "en fin de fenêtre ne pourrait jamais être éligible.",
            )
        )
    return problems


def _money_problems(
    doc: Mapping[str, Any], categories: Sequence[Mapping[str, Any]]
) -> list[Problem]:
    problems: list[Problem] = []
    if int(doc.get("extra_eu_licence_share_cap_bps", 0)) >= BPS:
        problems.append(
            (
                "/extra_eu_licence_share_cap_bps",
                "R-EXCL-2",
                "La part plafonnée doit rester marginale : strictement moins de 100 %.",
            )
        )
    for i in _duplicates([c["code"] for c in categories]):
        problems.append((f"/categories/{i}/code", "R-PROG-1", "Code de catégorie en double."))
    for i, category in enumerate(categories):
        if category.get("excluded") and category.get("share_capped"):
            problems.append(
                (
                    f"/categories/{i}",
                    "R-EXCL-1",
                    "Une catégorie exclue ne peut pas être aussi plafonnée (R-EXCL-2).",
                )
            )
    return problems


def _strand_problems(doc: Mapping[str, Any], strands: Sequence[Mapping[str, Any]]) -> list[Problem]:
    problems: list[Problem] = [
        (f"/strands/{i}/code", "R-PROG-1", "Code de volet en double.")
        for i in _duplicates([s["code"] for s in strands])
    ]
    for i, strand in enumerate(strands):
        for j, advisor in enumerate(strand.get("advisors") or ()):
            if advisor not in ADVISORS:
                problems.append(
                    (f"/strands/{i}/advisors/{j}", "R-EVAL-3", f"Évaluateur inconnu : {advisor}.")
                )
        for j in _duplicates([c["code"] for c in strand["criteria"]]):
            problems.append(
                (f"/strands/{i}/criteria/{j}/code", "R-EVAL-1", "Code de critère en double.")
            )
    problems += [
        (
            f"/{where}/{position}/code",
            "R-EVAL-1",
            f"Code déjà pris par un critère général : {code}.",
        )
        for where, position, code in shared_criterion_codes(
            doc.get("general_criteria") or (), strands
        )
    ]
    return problems


def _forfait_problems(
    tiers: Sequence[Mapping[str, Any]],
    eligible: Sequence[str],
    strands: Sequence[Mapping[str, Any]],
) -> list[Problem]:
    """R-CAP-3 against the document's own eligible kinds."""
    problems: list[Problem] = []
    for i, tier in enumerate(tiers):
        outside = [kind for kind in tier["kinds"] if kind not in eligible]
        if outside:
            problems.append(
                (
                    f"/forfaits/{i}/kinds",
                    "R-CAP-3",
                    f"Forfait pour une catégorie non éligible : {', '.join(outside)}.",
                )
            )
    if any(s.get("forfaits") for s in strands):
        problems += [
            ("/forfaits", "R-CAP-3", f"Catégorie éligible sans forfait : {kind}.")
            for kind in uncovered_kinds(tiers, eligible)
        ]
    elif tiers:
        problems.append(
            (
                "/forfaits",
                "R-CAP-3",
                "Un barème de forfaits est donné mais aucun volet ne l'applique (`forfaits`).",
            )
        )
    return problems


def _document_problems(
    documents: Sequence[Mapping[str, Any]],
    strands: Sequence[Mapping[str, Any]],
    eligible: Sequence[str],
) -> list[Problem]:
    problems: list[Problem] = [
        (field, "R-DOC-1", message)
        for field, message in requirement_problems(documents, [s["code"] for s in strands])
    ]
    for i, item in enumerate(documents):
        outside = sorted(set(item.get("candidate_kinds") or ()) - set(eligible))
        if outside:
            problems.append(
                (
                    f"/required_documents/{i}/candidate_kinds",
                    "R-DOC-1",
                    f"Catégorie(s) non éligible(s) : {', '.join(outside)}.",
                )
            )
    return problems


def document_problems(doc: Mapping[str, Any]) -> list[Problem]:
    """R-PROG-1: every inconsistency of a programme document at once, as (JSON pointer, rule
    id, message): the window and the results deadline out of order (R-ELIG-7, R-ELIG-5), a code
    used twice (strands, categories: R-PROG-1; criteria: R-EVAL-1; documents: R-DOC-1), a kind
    listed twice (R-ELIG-1), a category both excluded and share-capped (R-EXCL-1), a share cap
    of 100 % or more (R-EXCL-2), an unknown advisor (R-EVAL-3), a strand criterion reusing a
    general code (R-EVAL-1), a forfait for a kind the programme does not admit, a schedule
    leaving an eligible kind without forfait while a strand applies forfaits, or a schedule no
    strand applies (R-CAP-3), a required document naming an unknown strand or a kind the
    programme does not admit (R-DOC-1).

    A share-capped category under a 0 % cap is consistent: its extra-EU purchases are never
    eligible, its EU ones are.

    `doc` is the document as JSON (dates as ISO strings or `date`s), e.g. a stored programme's
    columns; fields it lacks are not checked.
    """
    eligible = [str(kind) for kind in doc.get("eligible_kinds") or ()]
    strands = doc.get("strands") or ()
    categories = doc.get("categories") or ()
    return [
        *_date_problems(doc),
        *[
            (f"/eligible_kinds/{i}", "R-ELIG-1", "Catégorie listée deux fois.")
            for i in _duplicates(eligible)
        ],
        *_money_problems(doc, categories),
        *_strand_problems(doc, strands),
        *_forfait_problems(doc.get("forfaits") or (), eligible, strands),
        *_document_problems(doc.get("required_documents") or (), strands, eligible),
    ]


def programme_open_problems(
    status: str, *, code: str | None = None, field: str | None = None
) -> list[RuleFailure]:
    """R-PROG-1: only a published programme takes new dossiers and submissions; a draft is not
    open yet, a closed one stays readable only. `code` names the programme in the message,
    `field` where the request chose it (a dossier's `/programme`)."""
    if status == "published":
        return []
    name = "Le programme" if code is None else f"Le programme « {code} »"
    message = (
        f"{name} est clos : il ne reçoit plus de dossier ni de dépôt."
        if status == "closed"
        else f"{name} est encore un brouillon : il ne reçoit ni dossier ni dépôt."
    )
    return [RuleFailure("R-PROG-1", message, field)]


@dataclass(frozen=True)
class Category:
    """R-PROG-1: an expense category of the programme. `excluded` (R-EXCL-1): never eligible;
    `share_capped` (R-EXCL-2): its lines whose vendor is not from the EU count under the
    programme's extra-EU share cap (and must state their vendor's origin)."""

    code: str
    label: str
    excluded: bool = False
    share_capped: bool = False

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Category:
        return cls(
            code=str(data["code"]),
            label=str(data["label"]),
            excluded=bool(data.get("excluded", False)),
            share_capped=bool(data.get("share_capped", False)),
        )


def categories(data: Iterable[Mapping[str, Any]]) -> tuple[Category, ...]:
    """The programme's `categories`, parsed."""
    return tuple(Category.of(item) for item in data)


class ProgrammeData(Protocol):
    """What the strand rules read of a programme (its row, or a draft document)."""

    @property
    def strands(self) -> list[dict[str, Any]]: ...

    @property
    def funding_cap_rate_bps(self) -> int: ...


@dataclass(frozen=True)
class StrandRules:
    """R-PROG-1: what one strand of a programme decides: its cap rate in force (R-CAP-1: its
    own, else the programme's), whether the forfait schedule caps its grants (R-CAP-3), who
    advises on its dossiers (R-EVAL-3)."""

    code: str
    funding_cap_rate_bps: int
    forfaits: bool
    advisors: frozenset[str]


def strand_codes(programme: ProgrammeData) -> list[str]:
    """The programme's strand codes, in its order."""
    return [str(s["code"]) for s in programme.strands]


def strand_rules(programme: ProgrammeData, code: str) -> StrandRules | None:
    """The rules of strand `code` of the programme, None when it has no such strand."""
    for strand in programme.strands:
        if strand["code"] == code:
            own = strand.get("funding_cap_rate_bps")
            return StrandRules(
                code=code,
                funding_cap_rate_bps=programme.funding_cap_rate_bps if own is None else int(own),
                forfaits=bool(strand.get("forfaits", False)),
                advisors=frozenset(strand.get("advisors") or ()),
            )
    return None
