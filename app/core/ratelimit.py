"""Rate limiting per caller (OWASP API4), as a pure ASGI middleware in front of the routes.

Who is counted: an authenticated call by its verified token's identity (subject, role and
scope: two tokens sharing a `sub` have two budgets); an anonymous call, or one whose token does
not verify, by the client address. Behind a reverse proxy the address is taken from
X-Forwarded-For only when the peer is one that `forwarded_allow_ips` trusts, the way uvicorn's
`--forwarded-allow-ips` does it; from anyone else the header is ignored.

What is counted: one budget per caller and class of route, `read`, `write` (POST, PATCH, PUT,
DELETE: stricter) and `open_data` (under /api/v1/open-data: stricter), with the limits of the
caller's role (settings). /healthz and /readyz are never limited.

The middleware answers before the route reads the body, so a refused write costs no parsing.
Over the limit: 429 problem+json with Retry-After; every limited response (429 or not) carries
the IETF draft's `RateLimit-Policy` and `RateLimit` fields (draft-ietf-httpapi-ratelimit-
headers) and API Entreprise's `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`
(an epoch timestamp).

Counters live in the store named by `rate_limit_storage_url` through the `limits` library:
memory for the embedded single process, Redis shared by every instance in production.

Fail-open: when the store cannot answer (Redis down or slower than the timeout) the request is
served without limit and without RateLimit headers, the failure is logged, and the store is
left alone for `rate_limit_retry_seconds`. The limiter protects capacity; it is not an access
control (tokens, scopes and body limits still hold), and answering 503 to every call, payments
included, whenever an auxiliary cache is down would turn a Redis outage into an API outage.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.storage import StorageTypes, storage_from_string
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import RATE_LIMIT_CLASSES, RATE_LIMIT_ROLES, Settings
from app.core.errors import PROBLEM_MEDIA_TYPE, problem_body, problem_ref
from app.core.observability import RATE_LIMIT_REFUSALS
from app.core.ratelimit_redis import RedisCounters
from app.core.tokens import (
    PRINCIPAL_SCOPE_KEY,
    VERIFIED_CACHE_SIZE,
    CallerIdentity,
    TokenClaims,
    TokenVerifier,
)

logger = logging.getLogger("app.ratelimit")

EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})
OPEN_DATA_PREFIX = "/api/v1/open-data"
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
SLUG = "rate-limited"
TITLE = "Trop de requêtes"
CLASS_LABELS = {
    "read": "lectures",
    "write": "écritures",
    "open_data": "données ouvertes",
}


def is_limited(path: str) -> bool:
    """Every route but the probes."""
    return path not in EXEMPT_PATHS


def route_class(method: str, path: str) -> str:
    """`open_data` under /api/v1/open-data, `write` for POST/PATCH/PUT/DELETE, else `read`."""
    if path == OPEN_DATA_PREFIX or path.startswith(OPEN_DATA_PREFIX + "/"):
        return "open_data"
    return "write" if method.upper() in WRITE_METHODS else "read"


# -- who is calling ---------------------------------------------------------------------------


class TrustedProxies:
    """uvicorn's `--forwarded-allow-ips`: IP addresses, networks, or "*"."""

    def __init__(self, spec: str) -> None:
        entries = [item.strip() for item in spec.split(",") if item.strip()]
        self.always = "*" in entries
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            if entry != "*":
                self.networks.append(ipaddress.ip_network(entry, strict=False))

    def __contains__(self, host: str) -> bool:
        if self.always:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def client_host(self, peer: str, forwarded_for: str | None) -> str:
        """The peer, unless it is a trusted proxy: then the nearest untrusted address of
        X-Forwarded-For (read right to left), or its first one if every hop is trusted."""
        if not forwarded_for or peer not in self:
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if not hops:
            return peer
        if self.always:
            return hops[0]
        for hop in reversed(hops):
            if hop not in self:
                return hop
        return hops[0]


def _header(scope: Scope, name: bytes) -> str | None:
    values = [v for k, v in scope.get("headers", []) if k.lower() == name]
    if not values:
        return None
    return b",".join(values).decode("latin-1")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True)
class Caller:
    role: str  # a Role value, or "anonymous"
    key: str  # a digest: no subject or address is written to the store


Identify = Callable[[TokenClaims], CallerIdentity]


class CallerResolver:
    def __init__(
        self, verifier: TokenVerifier, proxies: TrustedProxies, identify: Identify
    ) -> None:
        self.verifier = verifier
        self.proxies = proxies
        self.identify = identify  # app.auth: verified claims -> Principal, or InvalidScope
        # By token: the claims the verifier gave, and the principal and caller made of them.
        self._known: dict[str, tuple[TokenClaims, CallerIdentity, Caller]] = {}

    def _caller(self, token: str, claims: TokenClaims) -> tuple[CallerIdentity, Caller]:
        """The principal and the counted caller of these verified claims, made once a token
        (issue 28: with the headers written once, 3.6 % of an envelope read's instructions).
        Reused only while the verifier answers with the very claims they were made of: its
        cache gives the same object until the token expires, then verifies it again (and a
        token that no longer verifies never reaches here)."""
        known = self._known.get(token)
        if known is not None and known[0] is claims:
            return known[1], known[2]
        principal = self.identify(claims)  # a pure function of the claims (app.auth.rules)
        scope_claim = principal.departement or principal.siren or ""
        caller = Caller(
            principal.role.value,
            "t:" + _digest(principal.role.value, scope_claim, principal.subject),
        )
        if len(self._known) >= VERIFIED_CACHE_SIZE:
            self._known.clear()
        self._known[token] = (claims, principal, caller)
        return principal, caller

    async def __call__(self, scope: Scope) -> Caller:
        authorization = _header(scope, b"authorization")
        if authorization and authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
            try:
                principal, caller = self._caller(token, await self.verifier.verify(token))
            except Exception:  # noqa: BLE001 - AppError, InvalidScope or worse: never a pass
                pass  # counted by address like an anonymous call; the route answers 401 itself
            else:
                # The route's get_principal takes it from here instead of building it again
                # (7 µs: app.auth.dependencies), when its bearer credentials are this token.
                scope[PRINCIPAL_SCOPE_KEY] = (token, principal)
                return caller
        client = scope.get("client")
        peer = str(client[0]) if client else ""
        host = self.proxies.client_host(peer, _header(scope, b"x-forwarded-for"))
        return Caller("anonymous", "a:" + _digest(host))


# -- counting ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    allowed: bool
    route_class: str
    item: RateLimitItem
    remaining: int
    reset_at: float  # epoch seconds when a request is next counted back
    role: str = "anonymous"  # the caller's role, for the refusals metric

    def headers(self, now: float) -> list[tuple[bytes, bytes]]:
        item = self.item
        policy, limit = _policy(self.route_class, item.amount, item.get_expiry())
        reset_in = max(0, math.ceil(self.reset_at - now))
        remaining = max(0, self.remaining)
        values = [
            (b"ratelimit-policy", policy),
            (b"ratelimit", f'"{self.route_class}";r={remaining};t={reset_in}'.encode()),
            (b"ratelimit-limit", limit),
            (b"ratelimit-remaining", str(remaining).encode()),
            (b"ratelimit-reset", str(math.ceil(now) + reset_in).encode()),
        ]
        if not self.allowed:
            values.append((b"retry-after", str(max(1, reset_in)).encode()))
        return values


@lru_cache(maxsize=64)
def _policy(route_class: str, amount: int, window: int) -> tuple[bytes, bytes]:
    """The values of `RateLimit-Policy` and `RateLimit-Limit` for a class's limit, which only
    the settings change: written once, not on every request (issue 28)."""
    return f'"{route_class}";q={amount};w={window}'.encode(), str(amount).encode()


STRATEGIES: dict[str, Callable[[StorageTypes], RateLimiter]] = {
    "moving-window": MovingWindowRateLimiter,
    "fixed-window": FixedWindowRateLimiter,
    "sliding-window-counter": SlidingWindowCounterRateLimiter,
}


def storage_uri(url: str) -> str:
    """The async form of a `limits` storage URI: memory:// → async+memory://."""
    return url if url.startswith("async+") else "async+" + url


class RateLimitService:
    """The counters: one `limits` strategy over one storage, and the table of limits."""

    def __init__(self, settings: Settings) -> None:
        uri = storage_uri(settings.rate_limit_storage_url)
        options: dict[str, float | str | bool] = {}
        if "redis" in uri.split("://", 1)[0]:
            timeout = settings.rate_limit_storage_timeout_ms / 1000
            # redis-py rather than coredis (app/core/ratelimit_redis.py: half the CPU per hit).
            options = {
                "implementation": "redispy",
                "key_prefix": settings.rate_limit_key_prefix,
                "socket_connect_timeout": timeout,
                "socket_timeout": timeout,
            }
        self.storage = storage_from_string(uri, **options)
        self.strategy = STRATEGIES[settings.rate_limit_strategy](self.storage)
        # Redis: the hit and its window in one round trip (issue 28, app/core/ratelimit_redis.py).
        self.counters = (
            RedisCounters(
                self.storage,
                settings.rate_limit_strategy,
                max_connections=settings.rate_limit_storage_max_connections,
            )
            if options
            else None
        )
        self.items = {
            (role, klass): parse(settings.rate_limit(role, klass))
            for role in RATE_LIMIT_ROLES
            for klass in RATE_LIMIT_CLASSES
        }
        self.retry_seconds = settings.rate_limit_retry_seconds
        self._down_until = 0.0

    async def hit(self, caller: Caller, klass: str) -> Decision | None:
        """Count one request; None when the store cannot tell (fail-open)."""
        if time.monotonic() < self._down_until:
            return None
        item = self.items[(caller.role, klass)]
        try:
            if self.counters is not None:
                allowed, remaining, reset_at = await self.counters.hit(item, klass, caller.key)
            else:
                allowed = await self.strategy.hit(item, klass, caller.key)
                stats = await self.strategy.get_window_stats(item, klass, caller.key)
                remaining, reset_at = stats.remaining, stats.reset_time
        except Exception as exc:  # noqa: BLE001 - any store failure: serve, log, back off
            self._down_until = time.monotonic() + self.retry_seconds
            logger.warning(
                "rate limit store unavailable, serving unlimited for %.0fs: %r",
                self.retry_seconds,
                exc,
            )
            return None
        return Decision(allowed, klass, item, remaining, reset_at, caller.role)


# -- the middleware ---------------------------------------------------------------------------


def _too_many(decision: Decision, path: str) -> dict[str, Any]:
    item = decision.item
    window = item.get_expiry()
    retry = max(1, math.ceil(decision.reset_at - time.time()))
    per = {1: "seconde", 60: "minute", 3600: "heure", 86400: "jour"}.get(
        window, f"{window} secondes"
    )
    return problem_body(
        status=429,
        slug=SLUG,
        title=TITLE,
        detail=(
            f"Trop de requêtes ({CLASS_LABELS[decision.route_class]}) : {item.amount} par "
            f"{per} au plus. Réessayez dans {retry} s."
        ),
        instance=path,
        extensions={"retry_after_seconds": retry},
    )


class RateLimitMiddleware:
    """429 over the caller's budget; RateLimit headers on every limited response."""

    def __init__(
        self, app: ASGIApp, settings: Settings, verifier: TokenVerifier, identify: Identify
    ) -> None:
        self.app = app
        self.enabled = settings.rate_limit_enabled
        if self.enabled:
            self.service = RateLimitService(settings)
            self.resolve = CallerResolver(
                verifier, TrustedProxies(settings.forwarded_allow_ips), identify
            )

    async def _decide(self, scope: Scope) -> Decision | None:
        try:
            caller = await self.resolve(scope)
            return await self.service.hit(caller, route_class(scope["method"], scope["path"]))
        except Exception:  # noqa: BLE001 - the limiter must never turn a request into a 500
            logger.exception("rate limiter failed; request served unlimited")
            return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.enabled or not is_limited(scope["path"]):
            await self.app(scope, receive, send)
            return
        decision = await self._decide(scope)
        if decision is None:
            await self.app(scope, receive, send)
            return
        headers = decision.headers(time.time())
        if not decision.allowed:
            RATE_LIMIT_REFUSALS.labels(decision.route_class, decision.role).inc()
            body = json.dumps(_too_many(decision, scope["path"]), ensure_ascii=False).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [
                        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                        (b"content-length", str(len(body)).encode()),
                        *headers,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, with_headers)


# -- the contract -----------------------------------------------------------------------------

_HEADER_DOCS = {
    "Retry-After": "Secondes à attendre avant de réessayer.",
    "RateLimit-Policy": 'Politique appliquée (draft IETF), ex. `"write";q=60;w=60`.',
    "RateLimit": 'État du quota (draft IETF), ex. `"write";r=0;t=42`.',
    "RateLimit-Limit": "Requêtes permises dans la fenêtre (API Entreprise).",
    "RateLimit-Remaining": "Requêtes restantes dans la fenêtre (API Entreprise).",
    "RateLimit-Reset": "Instant (epoch, secondes) où le quota se reconstitue (API Entreprise).",
}
TOO_MANY_DESCRIPTION = (
    "Trop de requêtes pour votre quota (par jeton, ou par adresse sans jeton) : attendre "
    "Retry-After secondes."
)


def document_rate_limits(schema: dict[str, Any]) -> None:
    """429 (with its headers) on every limited operation of the contract."""
    for path, item in schema.get("paths", {}).items():
        if not is_limited(path):
            continue
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            response = problem_ref(TOO_MANY_DESCRIPTION)
            response["headers"] = {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in _HEADER_DOCS.items()
            }
            operation.setdefault("responses", {})["429"] = response
