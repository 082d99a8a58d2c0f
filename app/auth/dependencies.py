"""Coarse access checks as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.principal import Principal, Role
from app.auth.rules import InvalidScope, principal_from_claims
from app.core.errors import Forbidden, Unauthenticated
from app.core.observability import set_caller
from app.core.tokens import PRINCIPAL_SCOPE_KEY, TokenClaims, TokenVerifier
from app.reference.catalogue import get_catalogue

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    description="Jeton JWT (ProConnect en production ; `python -m app token` en développement).",
)


def principal_of(claims: TokenClaims) -> Principal:
    """The caller these verified claims name, checked against the reference (InvalidScope)."""
    return principal_from_claims(claims, is_departement=get_catalogue().is_departement)


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


async def get_principal(request: Request, credentials: Credentials) -> Principal:
    """Verify the bearer token (R-AUTH-1); any failure is a 401 problem."""
    if credentials is None or not credentials.credentials:
        raise Unauthenticated(invalid_token=False)
    known: tuple[str, Principal] | None = request.scope.get(PRINCIPAL_SCOPE_KEY)
    if known is not None and known[0] == credentials.credentials:
        # Verified once per request, by the rate limiter or whichever dependency asked first;
        # the access log names the caller of a route that asks, as it did before (issue 28).
        principal = known[1]
        set_caller(principal.role.value, principal.subject)
        return principal
    verifier: TokenVerifier = request.app.state.token_verifier
    claims = await verifier.verify(credentials.credentials)
    try:
        principal = principal_of(claims)
    except InvalidScope as exc:
        raise Unauthenticated(str(exc)) from exc
    set_caller(principal.role.value, principal.subject)  # the access log names the caller
    request.scope[PRINCIPAL_SCOPE_KEY] = (credentials.credentials, principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]

ROLE_LABELS = {
    Role.CANDIDATE: "candidat",
    Role.PREFECT: "préfet",
    Role.DINUM: "DINUM",
    Role.ANCT: "ANCT",
}


def require_roles(
    *roles: Role,
) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[Principal]]:
    """A dependency that lets only these roles through (403 problem otherwise)."""
    allowed = frozenset(roles)

    # The token is verified here, not through a `CurrentPrincipal` sub-dependency: one
    # dependency less to solve on every guarded route (issue 28).
    async def _check(request: Request, credentials: Credentials) -> Principal:
        principal = await get_principal(request, credentials)
        if principal.role not in allowed:
            names = ", ".join(ROLE_LABELS[r] for r in roles)
            raise Forbidden(f"Action réservée aux rôles : {names}.", code="forbidden-role")
        return principal

    _check.guichet_roles = tuple(r.value for r in roles)  # type: ignore[attr-defined]
    return _check
