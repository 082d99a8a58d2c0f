"""R-PROG-1: a dossier is filed only under a published programme (a draft is not open yet, a
closed programme accepts no new dossier and stays readable).

Minimal pure check written by the R-PROG-2 lane; the programme's lifecycle lane may provide
its own `programme_open_problems`, which then replaces this one.
"""

from __future__ import annotations

from app.core.rules import RuleFailure
from app.programme.models import ProgrammeStatus

_NOT_OPEN = {
    ProgrammeStatus.DRAFT.value: "est encore un brouillon : il n'est pas ouvert aux dépôts",
    ProgrammeStatus.CLOSED.value: "est clos : il n'accepte plus de dossier",
}


def programme_open_problems(
    code: str, status: str, *, field: str = "/programme"
) -> list[RuleFailure]:
    """Why a dossier may not be filed under the programme `code` in `status` (R-PROG-1)."""
    if status == ProgrammeStatus.PUBLISHED.value:
        return []
    reason = _NOT_OPEN.get(status, f"est « {status} » : il n'est pas ouvert aux dépôts")
    return [RuleFailure("R-PROG-1", f"Le programme « {code} » {reason}.", field)]
