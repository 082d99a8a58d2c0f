"""JWT verification and development token minting: the only module that imports `jose`.

R-AUTH-1 and RELIABILITY.md §0: one algorithm per verifier (HS256 in development and tests,
RS256 in production against a JWKS), exp/iat/aud/iss/sub required, leeway at most 60 s, RS256
keys picked from the configured JWKS by `kid`; `jku`/`x5u`/`jwk` headers are never followed.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
from jose import jwk, jwt
from jose.exceptions import JOSEError
from pydantic import BaseModel, ConfigDict, ValidationError

from app.core.config import Settings
from app.core.errors import ServiceUnavailable, Unauthenticated

logger = logging.getLogger("app.security")

REQUIRED_CLAIMS = ("exp", "iat", "aud", "iss", "sub")
TIME_CLAIMS = ("exp", "iat", "nbf")
VERIFIED_CACHE_SIZE = 10_000
# R-AUTH-1: bounds of the string claims we read (the subject is stored in histories,
# VARCHAR(255)); claims we never read are bounded by the token size (8 KiB) alone.
SUB_MAX = 255
CLAIM_MAX_LENGTHS = {"sub": SUB_MAX, "role": 32, "departement": 3, "siren": 9}
JWKS_REFRESH_MIN_INTERVAL_S = 60.0


class JWK(BaseModel):
    """The fields of an RSA public JWK that we use (RFC 7517/7518)."""

    model_config = ConfigDict(extra="allow")

    kty: str
    kid: str | None = None  # optional in RFC 7517; keys without one are never selected
    n: str | None = None  # RSA only: a JWKS may also list EC or oct keys, which are skipped
    e: str | None = None
    alg: str | None = None
    use: str | None = None


class JWKS(BaseModel):
    keys: list[JWK]


@dataclass(frozen=True)
class TokenClaims:
    """Verified claims, before they are turned into a Principal."""

    sub: str
    role: str | None
    departement: str | None
    siren: str | None
    raw: dict[str, Any]


def _rsa_keys(jwks: JWKS) -> dict[str, Any]:
    """The RS256 signing keys of a JWKS by kid, as JWK objects; ValueError if one is malformed."""
    keys: dict[str, Any] = {}
    for key in jwks.keys:
        if key.kty != "RSA" or (key.alg not in (None, "RS256")) or (key.use not in (None, "sig")):
            continue
        if key.kid is None:
            continue
        if key.n is None or key.e is None:
            raise ValueError(f"JWKS: RSA key {key.kid!r} lacks n or e")
        try:
            keys[key.kid] = jwk.construct(key.model_dump(exclude_none=True), algorithm="RS256")
        except (JOSEError, ValueError, TypeError) as exc:
            raise ValueError(f"JWKS: RSA key {key.kid!r} is malformed: {exc}") from exc
    return keys


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
        if self.algorithm == "RS256" and settings.jwt_jwks_file is not None:
            self._keys = _rsa_keys(
                JWKS.model_validate_json(settings.jwt_jwks_file.read_text(encoding="utf-8"))
            )

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
            self._keys = _rsa_keys(JWKS.model_validate_json(response.content))
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
            header = jwt.get_unverified_header(token)
        except (JOSEError, ValueError, TypeError) as exc:
            raise Unauthenticated("Jeton mal formé.") from exc
        if header.get("alg") != self.algorithm:
            raise Unauthenticated("Algorithme de signature refusé.")
        if "crit" in header:
            # RFC 7515 §4.1.11: we understand no extension, so any critical one is refused.
            raise Unauthenticated("Extension critique (crit) non prise en charge.")
        key = await self._key_for(header)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[self.algorithm],
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
            )
        except (JOSEError, ValueError, TypeError, OverflowError) as exc:  # exp: Infinity
            raise Unauthenticated("Jeton invalide, expiré ou non destiné à ce service.") from exc
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
        )

    def _check_claims(self, claims: dict[str, Any]) -> None:
        """R-AUTH-1: strict types and bounds, past what the signature and jose check."""
        for name in TIME_CLAIMS:
            value = claims.get(name)
            # NumericDate as an integer: no bool (`true` is an int in Python), float or string.
            if (value is not None or name != "nbf") and type(value) is not int:
                raise Unauthenticated(f"Date du jeton invalide (claim `{name}`).")
        exp, iat = claims["exp"], claims["iat"]
        if iat > time.time() + self.leeway:
            raise Unauthenticated("Jeton émis dans le futur.")
        if not 0 < exp - iat <= self.max_lifetime:
            raise Unauthenticated("Durée de vie du jeton hors des limites admises.")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise Unauthenticated("Jeton sans sujet (sub).")
        if not sub.isprintable():
            raise Unauthenticated("Sujet du jeton (sub) invalide.")
        for name, limit in CLAIM_MAX_LENGTHS.items():
            value = claims.get(name)
            if isinstance(value, str) and len(value) > limit:
                raise Unauthenticated(f"Claim `{name}` trop long ({limit} caractères au plus).")


def encode_access_token(
    settings: Settings,
    *,
    sub: str,
    role: str,
    departement: str | None = None,
    siren: str | None = None,
    ttl_seconds: int | None = None,
    now: float | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Mint an HS256 development token (refused when the verifier is RS256)."""
    if settings.jwt_algorithm != "HS256":
        raise RuntimeError("development tokens are HS256 only; production tokens come from the IdP")
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "role": role,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued,
        "exp": issued + (ttl_seconds or settings.dev_token_ttl_seconds),
    }
    if departement is not None:
        claims["departement"] = departement
    if siren is not None:
        claims["siren"] = siren
    if extra:
        claims.update(extra)
    return str(jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256"))


def dump_claims(token: str) -> str:
    """Pretty-print a token's unverified claims (for the CLI)."""
    return json.dumps(jwt.get_unverified_claims(token), indent=2, sort_keys=True)
