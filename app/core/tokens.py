"""Bearer tokens of this service (R-AUTH-1): verified into TokenClaims with one algorithm.

HS256 in development and tests, RS256/ES256 in production against a JWKS (a file, or a URL
fetched on an unknown kid at most once a minute) and the service's own key (R-AUTH-2);
exp/iat/aud/iss/sub required, leeway at most 60 s, claims typed and bounded past what jose
checks (RELIABILITY.md §0). jose itself is reached through `app.core.security`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import httpx
from pydantic import ValidationError

from app.core import security
from app.core.config import Settings
from app.core.errors import ServiceUnavailable, Unauthenticated
from app.core.security import JWKS, TIME_CLAIMS, ServiceKey, signing_keys

logger = logging.getLogger("app.security")

REQUIRED_CLAIMS = ("exp", "iat", "aud", "iss", "sub")
VERIFIED_CACHE_SIZE = 10_000
# The request's verified caller in its ASGI scope, as (token, principal): whoever verifies the
# token first (the rate limiter, or the route's dependency) leaves it for the others.
PRINCIPAL_SCOPE_KEY = "guichet.principal"
# R-AUTH-1: bounds of the string claims we read (the subject is stored in histories,
# VARCHAR(255)); claims we never read are bounded by the token size (8 KiB) alone.
SUB_MAX = 255
CLAIM_MAX_LENGTHS = {
    "sub": SUB_MAX,
    "role": 32,
    "departement": 3,
    "siren": 9,
    "mapping_rule": 100,
}
JWKS_REFRESH_MIN_INTERVAL_S = 60.0


@dataclass(frozen=True)
class TokenClaims:
    """Verified claims, before they are turned into a Principal."""

    sub: str
    role: str | None
    departement: str | None
    siren: str | None
    raw: dict[str, Any]
    mapping_rule: str | None = None  # R-AUTH-2: the rule that gave an exchanged token its role


class CallerIdentity(Protocol):
    """A verified caller as core sees it (`app.auth.principal.Principal` is one): idempotency
    records and rate-limit budgets are keyed by it, and core imports nothing above it."""

    @property
    def subject(self) -> str: ...

    @property
    def role(self) -> StrEnum: ...

    @property
    def departement(self) -> str | None: ...

    @property
    def siren(self) -> str | None: ...


class TokenVerifier:
    """Verifies bearer tokens with exactly one algorithm, fixed by configuration."""

    def __init__(self, settings: Settings) -> None:
        self.algorithm = settings.jwt_algorithm
        self.audience = settings.jwt_audience
        self.issuer = settings.jwt_issuer
        self.leeway = min(settings.jwt_leeway_seconds, 60)
        self.max_bytes = settings.jwt_max_token_bytes
        self.max_lifetime = settings.jwt_max_lifetime_seconds
        self._secret = settings.jwt_secret.get_secret_value()
        self._jwks_url = settings.jwt_jwks_url
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        # Issue 13: a token already verified in full is served from here until it expires
        # (its signature, audience, issuer and claims cannot change; exp and nbf are checked
        # again on every hit). Bounded: emptied when full, and whenever the JWKS is refreshed.
        self._verified: dict[str, TokenClaims] = {}
        if self.algorithm != "HS256" and settings.jwt_jwks_file is not None:
            self._keys = signing_keys(
                JWKS.model_validate_json(settings.jwt_jwks_file.read_text(encoding="utf-8")),
                self.algorithm,
            )
        # R-AUTH-2: the service's own key verifies the tokens it issued (same algorithm).
        self.service_key = ServiceKey.from_settings(settings)
        if self.service_key is not None:
            self._keys[self.service_key.kid] = self.service_key.public

    async def _refresh_jwks(self) -> None:
        """Fetch the JWKS from the configured URL; on failure keep the cached keys."""
        if self._jwks_url is None:
            return
        if time.monotonic() - self._fetched_at < JWKS_REFRESH_MIN_INTERVAL_S and self._keys:
            return
        self._fetched_at = time.monotonic()
        try:
            timeout = httpx.Timeout(5.0, connect=2.0)
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
                response = await client.get(self._jwks_url)
            response.raise_for_status()
            fetched = signing_keys(JWKS.model_validate_json(response.content), self.algorithm)
            if self.service_key is not None:
                fetched[self.service_key.kid] = self.service_key.public
            self._keys = fetched
            # A key that left the JWKS is no longer trusted: neither are the tokens it signed
            # that were verified before (issue 13's cache of verified tokens).
            self._verified.clear()
        except (httpx.HTTPError, ValidationError, ValueError) as exc:
            logger.warning("JWKS fetch failed, keeping %d cached keys: %s", len(self._keys), exc)
            if not self._keys:
                raise ServiceUnavailable(
                    "Les clés de vérification des jetons sont momentanément indisponibles."
                ) from exc

    async def _key_for(self, header: dict[str, Any]) -> Any:
        if self.algorithm == "HS256":
            return self._secret
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Unauthenticated("Jeton sans identifiant de clé (kid).")
        if kid not in self._keys:
            await self._refresh_jwks()
        if kid not in self._keys:
            raise Unauthenticated("Clé de signature inconnue (kid).")
        return self._keys[kid]

    async def verify(self, token: str) -> TokenClaims:
        """Return the verified claims, or raise Unauthenticated (401)."""
        hit = self._verified.get(token)
        if hit is not None:
            now = time.time()
            nbf = hit.raw.get("nbf")
            if hit.raw["exp"] + self.leeway > now and (nbf is None or nbf <= now + self.leeway):
                return hit
            del self._verified[token]
        claims = await self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    async def _verify(self, token: str) -> TokenClaims:
        if len(token.encode("utf-8", "ignore")) > self.max_bytes:
            raise Unauthenticated("Jeton trop volumineux.")
        try:
            header = security.unverified_header(token)
        except (ValueError, TypeError) as exc:
            raise Unauthenticated("Jeton mal formé.") from exc
        if header.get("alg") != self.algorithm:
            raise Unauthenticated("Algorithme de signature refusé.")
        if "crit" in header:
            # RFC 7515 §4.1.11: we understand no extension, so any critical one is refused.
            raise Unauthenticated("Extension critique (crit) non prise en charge.")
        key = await self._key_for(header)
        claims = security.decode(
            token,
            key,
            algorithm=self.algorithm,
            audience=self.audience,
            issuer=self.issuer,
            options={
                "require_exp": True,
                "require_iat": True,
                "require_aud": True,
                "require_iss": True,
                "require_sub": True,
                "verify_at_hash": False,
                "leeway": self.leeway,
            },
            what="jeton",
        )
        self._check_claims(claims)
        sub = claims["sub"]

        def _opt_str(name: str) -> str | None:
            value = claims.get(name)
            return value if isinstance(value, str) else None

        return TokenClaims(
            sub=str(sub),
            role=_opt_str("role"),
            departement=_opt_str("departement"),
            siren=_opt_str("siren"),
            raw=claims,
            mapping_rule=_opt_str("mapping_rule"),
        )

    def _check_claims(self, claims: dict[str, Any]) -> None:
        """R-AUTH-1: strict types and bounds, past what the signature and jose check."""
        check_registered_claims(
            claims, leeway=self.leeway, max_lifetime=self.max_lifetime, what="jeton"
        )
        for name, limit in CLAIM_MAX_LENGTHS.items():
            value = claims.get(name)
            if isinstance(value, str) and len(value) > limit:
                raise Unauthenticated(f"Claim `{name}` trop long ({limit} caractères au plus).")


def check_registered_claims(
    claims: dict[str, Any], *, leeway: int, max_lifetime: int, what: str
) -> None:
    """R-AUTH-1 / R-AUTH-2 (RELIABILITY.md §0): the checks past jose's that every token we
    accept passes, the service's access tokens and ProConnect's ID tokens alike: NumericDates
    as integers (`exp`, `iat`, and `nbf` when present), not issued in the future, a bounded
    lifetime, and a `sub` that is a non-blank printable string of at most 255 characters.
    `what` names the token in the French detail ("jeton", "jeton ProConnect")."""
    token = what[:1].upper() + what[1:]
    for name in TIME_CLAIMS:
        value = claims.get(name)
        # NumericDate as an integer: no bool (`true` is an int in Python), float or string.
        if (value is not None or name != "nbf") and type(value) is not int:
            raise Unauthenticated(f"Date du {what} invalide (claim `{name}`).")
    exp, iat = claims["exp"], claims["iat"]
    if iat > time.time() + leeway:
        raise Unauthenticated(f"{token} émis dans le futur.")
    if not 0 < exp - iat <= max_lifetime:
        raise Unauthenticated(f"Durée de vie du {what} hors des limites admises.")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise Unauthenticated(f"{token} sans sujet (sub).")
    if len(sub) > SUB_MAX or not sub.isprintable():
        raise Unauthenticated(f"Sujet du {what} (sub) invalide.")
