"""Pure rules of the démarches-simplifiées integration (issue 14): DS states, why a dossier is
refused, the write-back's mutations (which ones a decision asks of DS, the state each leaves, the
accept motivation) and the delivery's retry timing (Retry-After, backoff).

Reading a dossier node through a mapping is `dossier_rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


class DsState(StrEnum):
    EN_CONSTRUCTION = "en_construction"
    EN_INSTRUCTION = "en_instruction"
    ACCEPTE = "accepte"
    REFUSE = "refuse"
    SANS_SUITE = "sans_suite"


OPEN_STATES = frozenset({DsState.EN_CONSTRUCTION, DsState.EN_INSTRUCTION})
"""DS states whose dossiers are imported; decided ones are reported, never imported as
decisions (a decision is this service's committee's)."""


class Reason(StrEnum):
    """Why a dossier was not imported (stable, for machines)."""

    MALFORMED = "malformed"
    UNMAPPED_CHAMP = "unmapped_champ"
    UNKNOWN_VALUE = "unknown_value"
    INVALID_SIRET = "invalid_siret"
    INELIGIBLE_KIND = "ineligible_kind"
    OUT_OF_SCOPE = "out_of_scope"
    CANDIDATE_REFUSED = "candidate_refused"
    DECIDED_ON_DS = "decided_on_ds"
    PROGRAMME_CLOSED = "programme_closed"  # R-PROG-1: the démarche's programme is not open


@dataclass(frozen=True)
class Refusal:
    reason: Reason
    code: str
    message: str


class MutationKind(StrEnum):
    """The DS mutations the write-back sends, in the order a dossier needs them."""

    PASSER_EN_INSTRUCTION = "dossierPasserEnInstruction"
    ACCEPTER = "dossierAccepter"
    REFUSER = "dossierRefuser"
    CLASSER_SANS_SUITE = "dossierClasserSansSuite"


STATE_AFTER = {
    MutationKind.PASSER_EN_INSTRUCTION: DsState.EN_INSTRUCTION,
    MutationKind.ACCEPTER: DsState.ACCEPTE,
    MutationKind.REFUSER: DsState.REFUSE,
    MutationKind.CLASSER_SANS_SUITE: DsState.SANS_SUITE,
}


def mutations_for(ds_state: str, decision: MutationKind) -> list[MutationKind]:
    """The mutations that bring a DS dossier in `ds_state` to `decision`: DS accepts, refuses
    and classes only from `en_instruction`, so a dossier still `en_construction` is first
    passed into instruction. Nothing when DS is already there or past it."""
    if decision is MutationKind.PASSER_EN_INSTRUCTION:
        return [decision] if ds_state == DsState.EN_CONSTRUCTION else []
    if ds_state == DsState.EN_CONSTRUCTION:
        return [MutationKind.PASSER_EN_INSTRUCTION, decision]
    if ds_state == DsState.EN_INSTRUCTION:
        return [decision]
    return []


def accept_motivation(granted_cents: int, euros_text: str, reference: str | None) -> str:
    """The motivation sent with `dossierAccepter`: the granted amount, and the decision's
    reference when there is one."""
    text = f"Subvention FITN7 accordée par le comité de sélection : {euros_text}."
    return f"{text} Référence : {reference}." if reference else text


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A 429's `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def backoff_seconds(attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential backoff for a 5xx or a network error: 0.5, 1, 2, 4 … seconds (capped)."""
    return float(min(cap, base * (2 ** max(0, attempt - 1))))
