"""The authenticated caller and its scope (DOMAIN.md §2)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    CANDIDATE = "candidate"
    PREFECT = "prefect"
    DINUM = "dinum"
    ANCT = "anct"


NATIONAL_ROLES = frozenset({Role.DINUM, Role.ANCT})


@dataclass(frozen=True)
class Principal:
    """A verified caller: its subject, role and scope claim."""

    subject: str
    role: Role
    departement: str | None = None  # prefect only
    siren: str | None = None  # candidate only
    mapping_rule: str | None = None  # R-AUTH-2: the rule that gave an exchanged token its role

    @property
    def is_national(self) -> bool:
        return self.role in NATIONAL_ROLES
