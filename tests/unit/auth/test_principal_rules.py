"""R-AUTH-1: `principal_from_claims` refuses a role without its scope claim, never defaults.

Pure tests: the claims are built by hand, the département check is the bundled COG catalogue.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.auth.principal import Principal, Role
from app.auth.rules import InvalidScope, principal_from_claims
from app.core.tokens import TokenClaims
from app.reference.catalogue import get_catalogue

MARSEILLE_SIREN = "211300553"  # valid Luhn key


def _claims(
    role: str | None,
    *,
    departement: str | None = None,
    siren: str | None = None,
    sub: str = "someone",
) -> TokenClaims:
    raw: dict[str, Any] = {"sub": sub, "role": role, "departement": departement, "siren": siren}
    return TokenClaims(sub=sub, role=role, departement=departement, siren=siren, raw=raw)


def _principal(claims: TokenClaims) -> Principal:
    return principal_from_claims(claims, is_departement=get_catalogue().is_departement)


ACCEPTED = [
    pytest.param(
        _claims("prefect", departement="13"),
        Principal("someone", Role.PREFECT, departement="13"),
        id="prefect-13",
    ),
    pytest.param(
        _claims("prefect", departement="2A"),
        Principal("someone", Role.PREFECT, departement="2A"),
        id="prefect-2A-corse-du-sud",
    ),
    pytest.param(
        _claims("prefect", departement="974"),
        Principal("someone", Role.PREFECT, departement="974"),
        id="prefect-974-la-reunion",
    ),
    pytest.param(
        _claims("candidate", siren=MARSEILLE_SIREN),
        Principal("someone", Role.CANDIDATE, siren=MARSEILLE_SIREN),
        id="candidate-valid-siren",
    ),
    pytest.param(_claims("dinum"), Principal("someone", Role.DINUM), id="dinum-national"),
    pytest.param(_claims("anct"), Principal("someone", Role.ANCT), id="anct-national"),
    # A scope claim that does not belong to the role is dropped, never merged into the scope.
    pytest.param(
        _claims("dinum", departement="13", siren=MARSEILLE_SIREN),
        Principal("someone", Role.DINUM),
        id="dinum-ignores-stray-scope-claims",
    ),
    pytest.param(
        _claims("candidate", siren=MARSEILLE_SIREN, departement="13"),
        Principal("someone", Role.CANDIDATE, siren=MARSEILLE_SIREN),
        id="candidate-does-not-gain-departement",
    ),
    pytest.param(
        _claims("prefect", departement="13", siren=MARSEILLE_SIREN),
        Principal("someone", Role.PREFECT, departement="13"),
        id="prefect-does-not-gain-siren",
    ),
]


@pytest.mark.parametrize(("claims", "expected"), ACCEPTED)
def test_r_auth_1_role_with_its_scope_claim_gives_that_principal(
    claims: TokenClaims, expected: Principal
) -> None:
    assert _principal(claims) == expected


REFUSED = [
    pytest.param(_claims(None), id="missing-role"),
    pytest.param(_claims(""), id="empty-role"),
    pytest.param(_claims("admin"), id="unknown-role-admin"),
    pytest.param(_claims("superuser", departement="13"), id="unknown-role-with-scope"),
    pytest.param(_claims("PREFECT", departement="13"), id="role-is-case-sensitive"),
    pytest.param(_claims(" dinum"), id="role-with-whitespace"),
    # prefect: missing, empty or invalid département
    pytest.param(_claims("prefect"), id="prefect-without-departement"),
    pytest.param(_claims("prefect", departement=""), id="prefect-empty-departement"),
    pytest.param(_claims("prefect", departement="20"), id="prefect-20-pre-1976-corse"),
    pytest.param(_claims("prefect", departement="99"), id="prefect-99-foreign"),
    pytest.param(_claims("prefect", departement="2a"), id="prefect-2a-lowercase"),
    pytest.param(_claims("prefect", departement="013"), id="prefect-013-padded"),
    pytest.param(_claims("prefect", departement="*"), id="prefect-wildcard"),
    pytest.param(
        _claims("prefect", siren=MARSEILLE_SIREN), id="prefect-with-siren-but-no-departement"
    ),
    # candidate: missing or invalid SIREN
    pytest.param(_claims("candidate"), id="candidate-without-siren"),
    pytest.param(_claims("candidate", siren=""), id="candidate-empty-siren"),
    pytest.param(_claims("candidate", siren="211300554"), id="candidate-siren-bad-luhn"),
    pytest.param(_claims("candidate", siren="21130055"), id="candidate-siren-8-digits"),
    pytest.param(_claims("candidate", siren="2113005530"), id="candidate-siren-10-digits"),
    pytest.param(_claims("candidate", siren="211 300 553"), id="candidate-siren-with-spaces"),
    pytest.param(
        _claims("candidate", siren="21130055300017"), id="candidate-siret-instead-of-siren"
    ),
    pytest.param(_claims("candidate", siren="abcdefghi"), id="candidate-siren-letters"),
    # Issue 8 item 5: ASCII digits only (stdnum and str.isdigit accept other Unicode digits).
    pytest.param(_claims("candidate", siren="２１１３００５５３"), id="candidate-siren-full-width"),
    pytest.param(_claims("candidate", siren="٢١١٣٠٠٥٥٣"), id="candidate-siren-arabic-indic"),
    pytest.param(_claims("candidate", siren="21130055３"), id="candidate-siren-one-full-width"),
    pytest.param(_claims("prefect", departement="１３"), id="prefect-departement-full-width"),
    pytest.param(_claims("prefect", departement="13\n"), id="prefect-departement-newline"),
    pytest.param(_claims("prefect", departement="２A"), id="prefect-2A-full-width-digit"),
    pytest.param(
        _claims("candidate", departement="13"), id="candidate-with-departement-but-no-siren"
    ),
]


@pytest.mark.parametrize("claims", REFUSED)
def test_r_auth_1_unknown_role_or_missing_scope_is_refused(claims: TokenClaims) -> None:
    with pytest.raises(InvalidScope):
        _principal(claims)


def test_r_auth_1_invalid_scope_is_a_value_error_not_a_default_principal() -> None:
    """The dependency maps InvalidScope to 401; it must never be swallowed as 'national'."""
    assert issubclass(InvalidScope, ValueError)
    calls: list[str] = []

    def spy(code: str) -> bool:
        calls.append(code)
        return False

    with pytest.raises(InvalidScope):
        principal_from_claims(_claims("prefect", departement="13"), is_departement=spy)
    assert calls == ["13"]
