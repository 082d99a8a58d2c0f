"""Pure rules of documents (R-DOC-1..3): kinds, types read from the bytes, names, keys, ranges.

Nothing here touches the database, the settings, the storage or the clock.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote

from app.auth.principal import Principal, Role
from app.core.rules import RuleFailure
from app.programme.rules import DOCUMENT_TYPES, Owner, Requirement, Step
from app.projects.display import euros


class ScanStatus(StrEnum):
    """Analyse antivirus d'une pièce (R-DOC-2)."""

    # `pending` until scanned; `unscanned` when no scanner runs (never served in production);
    # `infected` is kept in quarantine and never served.

    PENDING = "pending"
    CLEAN = "clean"
    INFECTED = "infected"
    UNSCANNED = "unscanned"


# R-DOC-2: the type stored and served for each type libmagic reads from the bytes. A CSV is plain
# text to libmagic when it cannot tell the separator. The programme allows a subset per kind.
STORED_TYPES: dict[str, str] = {
    **{t: t for t in DOCUMENT_TYPES},
    "text/plain": "text/csv",
}


def stored_type(detected: str, allowed: Iterable[str]) -> str | None:
    """R-DOC-2: the type to store for the type read from the bytes, or None when the kind of
    document does not allow it."""
    stored = STORED_TYPES.get(detected.split(";", 1)[0].strip().lower())
    return stored if stored in set(allowed) else None


def types_fr(allowed: Iterable[str]) -> str:
    """The allowed types as people name them: « PDF, PNG ou JPEG »."""
    names = [DOCUMENT_TYPES[t] for t in DOCUMENT_TYPES if t in set(allowed)]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} ou {names[-1]}"


# -- names and keys ------------------------------------------------------------------------

MAX_NAME_LENGTH = 200
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


def sanitise_filename(name: str | None) -> str:
    """The user's file name as shown and offered back: its last path segment, NFC, without
    control or path characters, at most 200 characters; "document" when nothing is left. It is
    never used to build a storage key."""
    base = re.split(r"[/\\]", name or "")[-1]
    cleaned = _UNSAFE.sub("_", unicodedata.normalize("NFC", base)).strip(" ._")
    if len(cleaned) > MAX_NAME_LENGTH:
        stem, dot, ext = cleaned.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            cleaned = stem[: MAX_NAME_LENGTH - len(ext) - 1] + "." + ext
        else:
            cleaned = cleaned[:MAX_NAME_LENGTH]
    return cleaned or "document"


def storage_key(
    *, project_id: uuid.UUID | None, candidate_id: uuid.UUID | None, sha256: str
) -> str:
    """Where the bytes live: derived from the owner and the content's hash only (R-DOC-2: the
    same bytes on one dossier are one object; a user's file name never reaches a path)."""
    if project_id is not None:
        return f"projects/{project_id.hex}/{sha256}"
    if candidate_id is not None:
        return f"candidates/{candidate_id.hex}/{sha256}"
    raise ValueError("a document belongs to a dossier or a candidate")


def content_disposition(filename: str) -> str:
    """RFC 6266 `attachment`: an ASCII fallback and the UTF-8 name (RFC 8187 `filename*`)."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r"[^A-Za-z0-9._ -]", "_", ascii_name).strip() or "document"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


# -- ranges --------------------------------------------------------------------------------


class RangeNotSatisfiable(Exception):
    """The Range header asks for bytes the document does not have (416)."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """One byte range of RFC 9110 §14.1.2, or None to serve the whole document (no header, a
    unit other than bytes, several ranges or a malformed one: the header is ignored, as §14.2
    allows). Raises RangeNotSatisfiable when the range starts past the end."""
    if header is None:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # a suffix: the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return ByteRange(max(size - suffix, 0), size - 1)
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if last != "" and int(last) < start:
        return None  # invalid: ignored
    if start >= size:
        raise RangeNotSatisfiable
    return ByteRange(start, end)


# -- who may file what ---------------------------------------------------------------------

# Dossier states in which the prefecture files the convention's and final report's documents.
_PREFECT_STEP_STATES: dict[Step, frozenset[str]] = {
    Step.CONVENTION: frozenset({"accepted", "under_convention"}),
    Step.FINAL_REPORT: frozenset({"under_convention", "paid", "completed"}),
}


def project_upload_refusal(principal: Principal, step: Step, status: str) -> str | None:
    """Why this principal may not file this kind on a dossier in this state, or None.

    R-DOC-2: the candidate files (and replaces) the submission's documents only while its
    dossier is a draft; once submitted they are what was instructed. The prefecture files the
    signed convention once the dossier is accepted, the final report's documents once it is
    under convention. DINUM and ANCT read only (their 403 is the router's role check)."""
    if principal.role is Role.CANDIDATE:
        if step is not Step.SUBMISSION:
            return "Ce document est déposé par la préfecture."
        if status != "draft":
            return "Les pièces d'un dossier ne se déposent ou ne se remplacent qu'en brouillon."
        return None
    if principal.role is Role.PREFECT:
        if step is Step.SUBMISSION:
            return "Les pièces du dépôt sont déposées par le candidat."
        if status not in _PREFECT_STEP_STATES[step]:
            return "Le dossier n'en est pas à cette étape."
        return None
    return "Votre rôle ne dépose pas de pièces."


@dataclass(frozen=True)
class Upload:
    """What a caller may file now (`allowed_uploads`): a kind, and the lines it names."""

    requirement: Requirement
    expense_line_ids: tuple[uuid.UUID, ...] | None  # a per-line kind: the lines above its bar


def uploads_allowed(
    principal: Principal,
    required: Sequence[Requirement],
    *,
    owner: Owner,
    status: str | None,
    strand: str | None,
    candidate_kind: str | None,
    lines: Sequence[Line] = (),
) -> list[Upload]:
    """The kinds this caller may file now on a dossier in `status` (owner PROJECT) or on a
    candidate (owner CANDIDATE: the candidate itself, at any time), by the programme's data and
    `project_upload_refusal`; a per-line kind lists the lines above its threshold."""
    allowed: list[Upload] = []
    for req in required:
        if req.owner is not owner or not req.applies(strand=strand, candidate_kind=candidate_kind):
            continue
        if owner is Owner.CANDIDATE:
            if principal.role is Role.CANDIDATE:
                allowed.append(Upload(req, None))
            continue
        if project_upload_refusal(principal, req.step, status or "") is not None:
            continue
        ids = None
        if req.per_line:
            threshold = req.per_line_above_cents or 0
            ids = tuple(line.id for line in lines if line.amount_cents > threshold)
        allowed.append(Upload(req, ids))
    return allowed


def servable(status: ScanStatus, *, production: bool) -> bool:
    """R-DOC-2: served only once scanned clean; unscanned only outside production."""
    return status is ScanStatus.CLEAN or (status is ScanStatus.UNSCANNED and not production)


# -- scanning ------------------------------------------------------------------------------

SCAN_BACKOFF_SECONDS = (5, 15, 60, 300, 900)


def scan_retry_delay(failed_attempts: int) -> int:
    """Seconds before a document whose scan failed (clamd down) is tried again: growing, then
    every 15 minutes for as long as it takes (a document is never given up: it stays pending,
    never served, until a scanner has judged it)."""
    if failed_attempts < 1:
        raise ValueError("at least one attempt failed")
    return SCAN_BACKOFF_SECONDS[min(failed_attempts, len(SCAN_BACKOFF_SECONDS)) - 1]


# -- what a step requires (R-DOC-1) --------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """A current (not superseded) document of the dossier or of its candidate."""

    kind: str
    owner: Owner
    expense_line_id: uuid.UUID | None
    scan_status: ScanStatus


@dataclass(frozen=True)
class Line:
    """An expense line of the dossier, in its order."""

    id: uuid.UUID
    label: str
    amount_cents: int


def acceptable(status: ScanStatus, *, production: bool) -> bool:
    """R-DOC-1: a document counts once it may be served (R-DOC-2): clean, or unscanned outside
    production."""
    return servable(status, production=production)


def _why(held: Held | None, what: str, *, production: bool) -> str | None:
    if held is None:
        return f"Pièce manquante : {what}."
    if acceptable(held.scan_status, production=production):
        return None
    if held.scan_status is ScanStatus.INFECTED:
        return f"Pièce refusée par l'antivirus (en quarantaine) : {what} ; déposez-en une autre."
    return f"Pièce en cours d'analyse antivirus : {what} ; elle comptera une fois déclarée saine."


def missing_documents(
    required: Sequence[Requirement],
    *,
    step: Step,
    strand: str | None,
    candidate_kind: str | None,
    lines: Sequence[Line],
    held: Sequence[Held],
    production: bool,
) -> list[RuleFailure]:
    """R-DOC-1: each document `step` requires that is missing, not yet scanned clean or
    infected, one failure each (a per-line kind: one per line above its threshold)."""
    latest = {(h.owner, h.kind, h.expense_line_id): h for h in held}
    failures: list[RuleFailure] = []
    for req in required:
        if req.step is not step or not req.applies(strand=strand, candidate_kind=candidate_kind):
            continue
        if not req.per_line:
            why = _why(latest.get((req.owner, req.code, None)), req.label, production=production)
            if why is not None:
                failures.append(RuleFailure("R-DOC-1", why, f"/documents/{req.code}"))
            continue
        threshold = req.per_line_above_cents or 0
        for index, line in enumerate(lines):
            if line.amount_cents <= threshold:
                continue
            what = f"{req.label} de la ligne « {line.label} » ({euros(line.amount_cents)})"
            why = _why(latest.get((req.owner, req.code, line.id)), what, production=production)
            if why is not None:
                failures.append(
                    RuleFailure("R-DOC-1", why, f"/expense_lines/{index}/documents/{req.code}")
                )
    return failures
