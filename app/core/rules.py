"""What a pure rule function reports, and the error that carries its failures to the client."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.core.errors import AppError, ProblemItem, UnprocessableEntity


@dataclass(frozen=True)
class RuleFailure:
    """One failed rule: its DOMAIN.md id, a French message and the field in cause."""

    code: str
    message: str
    field: str | None = None

    def as_item(self) -> ProblemItem:
        return ProblemItem(code=self.code, message=self.message, field=self.field or "")


def raise_failures(
    failures: Sequence[RuleFailure],
    *,
    error: type[AppError] = UnprocessableEntity,
    detail: str | None = None,
    **extensions: Any,
) -> None:
    """Raise `error` listing every failure (code = the first rule id), if there is any;
    `extensions` are members of the problem (e.g. a 409's `allowed_actions`)."""
    if not failures:
        return
    summary = detail or " ; ".join(f.message for f in failures)
    raise error(
        summary, code=failures[0].code, errors=[f.as_item() for f in failures], **extensions
    )
