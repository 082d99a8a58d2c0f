"""Pure rules on programme data: which forfait applies (R-CAP-3), which documents a step
requires (R-DOC-1)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


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
