"""Pure rules turning verified token claims into a Principal (R-AUTH-1)."""

from __future__ import annotations

import re
from collections.abc import Callable

from stdnum.fr import siren as siren_number

from app.auth.principal import Principal, Role
from app.core.tokens import TokenClaims

# ASCII only: `\d` and str.isdigit() also match full-width and other Unicode digits.
SIREN_PATTERN = re.compile(r"[0-9]{9}")
DEPARTEMENT_PATTERN = re.compile(r"[0-9]{2,3}|2[AB]")


class InvalidScope(ValueError):
    """The token's role is unknown or lacks its scope claim."""


def principal_from_claims(
    claims: TokenClaims, *, is_departement: Callable[[str], bool]
) -> Principal:
    """R-AUTH-1: a role without its scope claim (or an unknown role) is refused, never defaulted."""
    try:
        role = Role(claims.role) if claims.role is not None else None
    except ValueError:
        role = None
    if role is None:
        raise InvalidScope("Rôle absent ou inconnu dans le jeton.")
    if role is Role.PREFECT:
        if (
            not claims.departement
            or not DEPARTEMENT_PATTERN.fullmatch(claims.departement)
            or not is_departement(claims.departement)
        ):
            raise InvalidScope("Jeton de préfet sans département valide (claim `departement`).")
        return Principal(
            subject=claims.sub,
            role=role,
            departement=claims.departement,
            mapping_rule=claims.mapping_rule,
        )
    if role is Role.CANDIDATE:
        if (
            not claims.siren
            or not SIREN_PATTERN.fullmatch(claims.siren)
            or not siren_number.is_valid(claims.siren)
        ):
            raise InvalidScope("Jeton de candidat sans SIREN valide (claim `siren`).")
        return Principal(
            subject=claims.sub, role=role, siren=claims.siren, mapping_rule=claims.mapping_rule
        )
    return Principal(subject=claims.sub, role=role, mapping_rule=claims.mapping_rule)
