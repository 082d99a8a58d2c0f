"""Pure parts of the rate limiter (API4): route classes, trusted proxies (uvicorn's
--forwarded-allow-ips semantics), the limits table of the settings, the RateLimit headers."""

from __future__ import annotations

from typing import Any

import pytest
from limits import parse
from pydantic import ValidationError

from app.auth.principal import Principal, Role
from app.auth.rules import principal_from_claims
from app.core.config import Settings
from app.core.errors import Unauthenticated
from app.core.ratelimit import (
    CallerResolver,
    Decision,
    TrustedProxies,
    is_limited,
    route_class,
    storage_uri,
)
from app.core.tokens import PRINCIPAL_SCOPE_KEY, TokenClaims


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/api/v1/projects", "read"),
        ("HEAD", "/api/v1/projects", "read"),
        ("POST", "/api/v1/projects", "write"),
        ("PATCH", "/api/v1/projects/x", "write"),
        ("PUT", "/api/v1/envelopes/13/forfaits", "write"),
        ("DELETE", "/api/v1/projects/x", "write"),
        ("GET", "/api/v1/open-data", "open_data"),
        ("GET", "/api/v1/open-data/projets.csv", "open_data"),
        ("POST", "/api/v1/open-data/x", "open_data"),
        ("GET", "/api/v1/open-datax", "read"),
    ],
)
def test_api4_route_classes(method: str, path: str, expected: str) -> None:
    assert route_class(method, path) == expected


def test_api4_only_the_probes_are_exempt() -> None:
    assert not is_limited("/healthz") and not is_limited("/readyz")
    assert is_limited("/api/v1/programme") and is_limited("/docs") and is_limited("/readyz/x")


def test_api4_forwarded_for_is_ignored_unless_the_peer_is_trusted() -> None:
    nobody = TrustedProxies("")
    assert nobody.client_host("203.0.113.5", "1.2.3.4") == "203.0.113.5"
    proxies = TrustedProxies("10.0.0.0/8, 127.0.0.1,::1")
    assert proxies.client_host("203.0.113.5", "1.2.3.4") == "203.0.113.5"
    assert proxies.client_host("127.0.0.1", None) == "127.0.0.1"
    assert proxies.client_host("127.0.0.1", "198.51.100.7") == "198.51.100.7"
    assert proxies.client_host("::1", "198.51.100.7") == "198.51.100.7"
    # right to left: the nearest hop no trusted proxy vouches for; what the client prepended
    # itself is never believed
    assert proxies.client_host("10.0.0.1", "6.6.6.6, 198.51.100.7, 10.0.0.2") == "198.51.100.7"
    assert proxies.client_host("10.0.0.1", "10.0.0.3, 10.0.0.2") == "10.0.0.3"
    assert proxies.client_host("10.0.0.1", "not-an-ip") == "not-an-ip"
    everyone = TrustedProxies("*")
    assert everyone.client_host("203.0.113.5", "198.51.100.7, 10.0.0.2") == "198.51.100.7"


def test_api4_malformed_proxy_or_storage_settings_are_refused_at_startup() -> None:
    with pytest.raises(ValueError):
        TrustedProxies("10.0.0.0/33")
    for bad in ({"forwarded_allow_ips": "10.0.0.0/33"}, {"forwarded_allow_ips": "proxy"}):
        with pytest.raises(ValidationError):
            Settings(_env_file=None, **bad)  # type: ignore[call-arg, arg-type]
    for url in ("127.0.0.1:6379", "postgresql://x/y", "memcached://h:1"):
        with pytest.raises(ValidationError):
            Settings(_env_file=None, rate_limit_storage_url=url)  # type: ignore[call-arg]
    for url in ("memory://", "redis://h:6379/0", "async+redis://h:6379/0", "rediss://h:1/0"):
        assert Settings(_env_file=None, rate_limit_storage_url=url)  # type: ignore[call-arg]


def test_api4_limits_default_per_environment_and_override_per_role_and_class() -> None:
    dev = Settings(_env_file=None)  # type: ignore[call-arg]
    prod = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="production",
        jwt_secret="x" * 40,
        audit_keys={"k": "k" * 40},  # R-AUDIT-1: production has its own audit key
        documents_scanner_url="unix:///run/clamav/clamd.ctl",
        rate_limits={"candidate_write": "7/minute"},
    )
    assert prod.rate_limit("candidate", "write") == "7/minute"
    for role in ("anonymous", "candidate", "prefect", "dinum", "anct"):
        read, write, open_data = (
            parse(prod.rate_limit(role, klass)) for klass in ("read", "write", "open_data")
        )
        assert write.amount < read.amount and open_data.amount < read.amount  # stricter
        assert parse(dev.rate_limit(role, "read")).amount >= 10 * read.amount


def test_api4_an_unparsable_limit_is_refused_at_startup() -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, rate_limits={"prefect_read": "lots"})  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Settings(_env_file=None, rate_limits={"root_read": "1/minute"})  # type: ignore[call-arg]


def test_api4_headers_of_the_ietf_draft_and_of_api_entreprise() -> None:
    item = parse("60/minute")
    ok = dict(Decision(True, "write", item, 12, 1_000_042.2).headers(1_000_000.5))
    assert ok == {
        b"ratelimit-policy": b'"write";q=60;w=60',
        b"ratelimit": b'"write";r=12;t=42',
        b"ratelimit-limit": b"60",
        b"ratelimit-remaining": b"12",
        b"ratelimit-reset": b"1000043",
    }
    refused = dict(Decision(False, "write", item, -1, 1_000_000.9).headers(1_000_000.5))
    assert refused[b"ratelimit-remaining"] == b"0"
    assert refused[b"retry-after"] == b"1"  # never 0: the client must wait


def test_api4_storage_urls_take_their_async_form() -> None:
    assert storage_uri("memory://") == "async+memory://"
    assert storage_uri("redis://127.0.0.1:6379/0") == "async+redis://127.0.0.1:6379/0"
    assert storage_uri("async+redis://h:1/0") == "async+redis://h:1/0"


class _Verifier:
    """The verifier's cache as the resolver sees it: the same claims object for a token until
    it is verified again (`renew`)."""

    def __init__(self) -> None:
        self.claims: dict[str, TokenClaims] = {}

    def renew(self, token: str, role: str, departement: str | None = None) -> None:
        self.claims[token] = TokenClaims("agent-1", role, departement, None, {})

    async def verify(self, token: str) -> TokenClaims:
        if token not in self.claims:
            raise Unauthenticated()
        return self.claims[token]


def _scope(token: str) -> dict[str, Any]:
    return {"headers": [(b"authorization", b"Bearer " + token.encode())], "client": ("1.2.3.4", 1)}


async def test_api4_the_caller_of_a_token_is_made_once_until_it_is_verified_again() -> None:
    """Issue 28: the principal and the counted caller are made once a token, and again when
    the verifier gives new claims for it (re-verified after expiry): the budget follows the
    claims, never a principal made of claims the verifier no longer gives."""
    verifier, made = _Verifier(), []

    def identify(claims: TokenClaims) -> Principal:
        made.append(claims)
        return principal_from_claims(claims, is_departement=lambda code: code in {"13", "69"})

    resolve = CallerResolver(verifier, TrustedProxies(""), identify)  # type: ignore[arg-type]
    verifier.renew("t1", "prefect", "13")
    first, again = _scope("t1"), _scope("t1")
    caller = await resolve(first)
    assert await resolve(again) == caller and caller.role == "prefect"
    assert len(made) == 1
    assert (
        first[PRINCIPAL_SCOPE_KEY]
        == again[PRINCIPAL_SCOPE_KEY]
        == (
            "t1",
            Principal("agent-1", Role.PREFECT, departement="13"),
        )
    )
    verifier.renew("t1", "prefect", "69")  # the same subject, verified again with another scope
    moved = await resolve(_scope("t1"))
    assert len(made) == 2 and moved.key != caller.key
    # Claims that name no valid scope are counted by address, every time, and never kept.
    verifier.renew("t2", "prefect", "99")
    for _ in range(2):
        refused = _scope("t2")
        assert (await resolve(refused)).role == "anonymous"
        assert PRINCIPAL_SCOPE_KEY not in refused
    assert len(made) == 4
    verifier.claims.clear()  # a token that no longer verifies: by address, whatever was made
    assert (await resolve(_scope("t1"))).role == "anonymous"
