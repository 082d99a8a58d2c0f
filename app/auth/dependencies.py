"""Coarse access checks as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, Role
from app.auth.rules import InvalidScope, principal_from_claims
from app.core.clock import use_clock
from app.core.db import request_clock
from app.core.errors import Forbidden, Unauthenticated
from app.core.lean_route import LeanAccess
from app.core.observability import set_caller
from app.core.rawsql import ReadConnection
from app.core.reads import ReadConnections
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


def _forbidden(roles: tuple[Role, ...]) -> Forbidden:
    names = ", ".join(ROLE_LABELS[r] for r in roles)
    return Forbidden(f"Action réservée aux rôles : {names}.", code="forbidden-role")


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
            raise _forbidden(roles)
        return principal

    _check.guichet_roles = tuple(r.value for r in roles)  # type: ignore[attr-defined]
    return _check


@dataclass(frozen=True, slots=True)
class Read:
    """What a lean read needs: its verified caller and its pooled connection."""

    principal: Principal
    connection: ReadConnection


@dataclass(frozen=True, slots=True)
class Write:
    """What a lean write needs: its verified caller and its request's session (one transaction,
    committed before the response is sent, rolled back if the endpoint raised)."""

    principal: Principal
    session: AsyncSession


class _Access(HTTPBearer, LeanAccess):
    """The bearer scheme of `bearer_scheme` that, called, also checks the caller's role and makes
    the clock current, then yields what the route works with (`opened`: its subclasses')."""

    def __init__(self, roles: tuple[Role, ...]) -> None:
        super().__init__(
            auto_error=False,
            scheme_name=bearer_scheme.scheme_name,
            description=bearer_scheme.model.description,
        )
        self.roles = roles
        self.allowed = frozenset(roles)
        self.guichet_roles = tuple(r.value for r in roles)  # the contract's roles of the route

    async def checked(self, request: Request) -> Principal:
        """The caller verified (401) and of one of the roles (403); the clock made current."""
        principal = await get_principal(request, await HTTPBearer.__call__(self, request))
        if principal.role not in self.allowed:
            raise _forbidden(self.roles)
        use_clock(await request_clock(request))
        return principal

    async def __call__(self, request: Request) -> AsyncIterator[Any]:  # type: ignore[override]
        async with self.opened(request) as opened:
            yield opened


class _ReadAccess(_Access):
    """`read_access`'s dependency: the read's connection."""

    def __init__(self, roles: tuple[Role, ...], *, snapshot: bool) -> None:
        super().__init__(roles)
        self.snapshot = snapshot

    def opened(self, request: Request) -> _OpenedRead:
        """The caller checked, the clock made current, the read's connection: what a call of
        this dependency yields, for FastAPI and for a lean route (app/core/lean_route.py)."""
        return _OpenedRead(self, request)


class _OpenedRead:
    """`_ReadAccess.opened`'s context manager, with its own `__aenter__` and `__aexit__`: a
    generator's context manager around the connection's cost a generator, an object and two
    frames on every read (issue 28)."""

    __slots__ = ("_access", "_request", "_connection")

    def __init__(self, access: _ReadAccess, request: Request) -> None:
        self._access, self._request = access, request

    async def __aenter__(self) -> Read:
        request = self._request
        principal = await self._access.checked(request)  # before a pool slot is taken
        connections: ReadConnections = request.app.state.read_connection
        self._connection = connections(request, snapshot=self._access.snapshot)
        return Read(principal, await self._connection.__aenter__())

    async def __aexit__(self, *exc: Any) -> bool | None:
        return await self._connection.__aexit__(*exc)


class _WriteAccess(_Access):
    """`write_access`'s dependency: the write's session."""

    @asynccontextmanager
    async def opened(self, request: Request) -> AsyncIterator[Write]:
        """The caller checked, the clock made current, the request's session (committed when
        the block returns): what a call of this dependency yields, for FastAPI and for a lean
        route."""
        principal = await self.checked(request)
        async with request.app.state.write_session(request) as session:
            yield Write(principal, session)


def read_access(*roles: Role, snapshot: bool = False) -> Any:
    """`Depends` of one dependency for a hot read (issue 28): the caller verified and checked
    against these roles (401, then 403, as `require_roles`), the request's clock made current,
    then the read's pooled connection (`app.core.reads.read_connection`: autocommit, or one
    snapshot when `snapshot`), admitted by the checkout gate and returned before the response
    is sent.

    py-spy put 16-20 % of a single read's CPU in FastAPI's solving of its dependencies: the
    connection and the role check were two dependencies, each with two of its own (the clock
    and the request; the bearer scheme and the request), every one solved on every request.
    This one has none but the request: it is the bearer scheme itself (an `HTTPBearer` of the
    same name and description as `bearer_scheme`), so the contract still states the
    `bearerAuth` security of these operations. The caller is checked before a pool slot is
    taken: a refused request holds no connection. The clock is `get_clock`'s, or a test's
    override of it (`request_clock`); the connection is `app.state.read_connection`'s (tests
    put theirs).
    """
    # scope="function": the connection goes back to the pool before the response is sent.
    return Depends(_ReadAccess(roles, snapshot=snapshot), scope="function")


def write_access(*roles: Role) -> Any:
    """`Depends` of one dependency for a hot write (issue 28: the deadline day's submissions),
    as `read_access` is for a hot read: the caller verified and checked against these roles
    (401, then 403, as `require_roles`), the request's clock made current, then the request's
    session (`app.core.db.write_session`, as `get_session`'s: admitted by the checkout gate,
    committed before the response is sent, rolled back when the endpoint raised). The caller
    is checked before the session takes a slot: a refused request holds no connection. With a
    `@lean` endpoint on a `LeanRoute`, FastAPI's solving of the route's dependencies is
    skipped (py-spy: 0.36 ms of a submission's 6.2 ms of CPU, 2026-12-06)."""
    return Depends(_WriteAccess(roles), scope="function")
