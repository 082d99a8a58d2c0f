"""JWT verification and development token minting: the only module that imports `jose`.

R-AUTH-1 and RELIABILITY.md §0: one algorithm per verifier (HS256 in development and tests,
RS256 in production against a JWKS), exp/iat/aud/iss/sub required, leeway at most 60 s, RS256
keys picked from the configured JWKS by `kid`; `jku`/`x5u`/`jwk` headers are never followed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import httpx
from jose import jwk, jwt
from jose.exceptions import ExpiredSignatureError, JOSEError, JWSError, JWTClaimsError
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
CLAIM_MAX_LENGTHS = {
    "sub": SUB_MAX,
    "role": 32,
    "departement": 3,
    "siren": 9,
    "mapping_rule": 100,
}
JWKS_REFRESH_MIN_INTERVAL_S = 60.0


class JWK(BaseModel):
    """The fields of an RSA or EC public JWK that we use (RFC 7517/7518)."""

    model_config = ConfigDict(extra="allow")

    kty: str
    kid: str | None = None  # optional in RFC 7517; keys without one are never selected
    n: str | None = None  # RSA
    e: str | None = None
    crv: str | None = None  # EC
    x: str | None = None
    y: str | None = None
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


# RELIABILITY.md §0: the key type each asymmetric algorithm takes; any other JWK is skipped.
KEY_TYPES = {"RS256": ("RSA", None), "ES256": ("EC", "P-256")}


def signing_keys(jwks: JWKS, algorithm: str = "RS256") -> dict[str, Any]:
    """The `algorithm` signing keys of a JWKS by kid, as JWK objects; ValueError if malformed."""
    kty, crv = KEY_TYPES[algorithm]
    keys: dict[str, Any] = {}
    for key in jwks.keys:
        if key.kty != kty or (key.alg not in (None, algorithm)) or (key.use not in (None, "sig")):
            continue
        if key.kid is None:
            continue
        if kty == "RSA" and (key.n is None or key.e is None):
            raise ValueError(f"JWKS: RSA key {key.kid!r} lacks n or e")
        if kty == "EC" and (key.crv != crv or key.x is None or key.y is None):
            continue  # another curve, or not a public EC point: never selected
        public = key.model_dump(
            exclude_none=True, include={"kty", "kid", "n", "e", "crv", "x", "y"}
        )
        try:
            keys[key.kid] = jwk.construct(public, algorithm=algorithm)
        except (JOSEError, ValueError, TypeError) as exc:
            raise ValueError(f"JWKS: key {key.kid!r} is malformed: {exc}") from exc
    return keys


def _b64u_json(members: dict[str, str]) -> str:
    return json.dumps(members, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class ServiceKey:
    """R-AUTH-2: the service's own signing key, its public JWK and its kid."""

    algorithm: str
    kid: str
    private: Any
    public: Any
    public_jwk: dict[str, str]

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceKey | None:
        pem = settings.signing_key_pem()
        if pem is None:
            return None
        algorithm = settings.jwt_algorithm
        if algorithm not in KEY_TYPES:
            raise ValueError("the service's signing key needs RS256 or ES256")
        try:
            private = jwk.construct(pem, algorithm=algorithm)
            public = private.public_key()
            # jose builds an RSA key object around an EC key (and fails only here).
            members = {k: str(v) for k, v in public.to_dict().items() if k in KEY_MEMBERS}
        except (JOSEError, ValueError, TypeError, AttributeError) as exc:
            raise ValueError(f"GUICHET_JWT_SIGNING_KEY is not a {algorithm} private key") from exc
        if members.get("kty") != KEY_TYPES[algorithm][0]:
            raise ValueError(f"GUICHET_JWT_SIGNING_KEY is not a {algorithm} key")
        # RFC 7638 thumbprint: the required members, sorted, no whitespace, SHA-256, base64url.
        required = {k: members[k] for k in THUMBPRINT_MEMBERS[members["kty"]]}
        digest = hashlib.sha256(_b64u_json(required).encode("utf-8")).digest()
        kid = settings.jwt_signing_kid or base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        public_jwk = {**members, "kid": kid, "alg": algorithm, "use": "sig"}
        return cls(algorithm, kid, private, public, public_jwk)


KEY_MEMBERS = frozenset({"kty", "n", "e", "crv", "x", "y"})
THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}


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
            raise Unauthenticated(refusal_detail(exc, "jeton")) from exc
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


_MISSING_CLAIM = re.compile(r'missing required key "([a-z_]{1,20})"')


def refusal_detail(exc: Exception, what: str) -> str:
    """Why jose refused a token, in French (RFC 6750 `error_description` folds it to ASCII):
    expired, bad signature, a required claim missing, another audience or issuer… jose checks
    the signature before any claim, so only a genuinely signed token is told "expiré".
    `what` names the token ("jeton", "jeton ProConnect")."""
    token = what[:1].upper() + what[1:]
    text = str(exc)
    if isinstance(exc, ExpiredSignatureError):
        return f"{token} expiré (exp) : obtenez-en un nouveau."
    if isinstance(exc, JWTClaimsError):
        if "audience" in text:
            return f"{token} destiné à un autre service (aud)."
        if "issuer" in text:
            return f"Émetteur du {what} non reconnu (iss)."
        if "not yet valid" in text:
            return f"{token} pas encore valide (nbf)."
        for name in TIME_CLAIMS:
            if f"({name})" in text:
                return f"Date du {what} invalide (claim `{name}`)."
        if "ubject" in text:
            return f"Sujet du {what} (sub) invalide."
        return f"Claims du {what} invalides."
    missing = _MISSING_CLAIM.search(text)
    if missing:
        return f"{token} sans claim obligatoire `{missing.group(1)}`."
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, JWSError) or isinstance(exc, JWSError):
        if "Signature verification failed" in text:
            return f"Signature du {what} invalide."
        return f"{token} mal formé (signature illisible)."
    return f"{token} mal formé ou illisible."


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
    service_key: ServiceKey | None = None,
) -> str:
    """Mint a token of this service: with its own key (RS256/ES256, `kid` header) when one is
    configured (R-AUTH-2), else HS256 with the development secret; refused otherwise (a
    deployment verifying another issuer's RS256 tokens has nothing to sign with)."""
    key = service_key or ServiceKey.from_settings(settings)
    if key is None and settings.jwt_algorithm != "HS256":
        raise RuntimeError(
            "no signing key: set GUICHET_JWT_SIGNING_KEY (RS256/ES256) to mint tokens here"
        )
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
    if key is not None:
        return str(
            jwt.encode(claims, key.private, algorithm=key.algorithm, headers={"kid": key.kid})
        )
    return str(jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256"))


def dump_claims(token: str) -> str:
    """Pretty-print a token's unverified claims (for the CLI)."""
    return json.dumps(jwt.get_unverified_claims(token), indent=2, sort_keys=True)


# -- R-AUTH-2: ProConnect ID tokens ---------------------------------------------------------


class ProviderMetadata(BaseModel):
    """The fields of the provider's discovery document that we use (API10: validated)."""

    model_config = ConfigDict(extra="allow")

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    end_session_endpoint: str | None = None


def _same_origin(url: str, issuer: str, *, allow_http: bool) -> bool:
    """API7: every URL we fetch for the provider is on the configured issuer's origin."""
    target, base = httpx.URL(url), httpx.URL(issuer)
    schemes = ("https", "http") if allow_http else ("https",)
    return target.scheme in schemes and (target.scheme, target.host, target.port) == (
        base.scheme,
        base.host,
        base.port,
    )


class ProviderVerifier:
    """Verifies ProConnect ID tokens (and signed userinfo) with one algorithm from settings.

    The discovery document is read once from the configured issuer; the JWKS from its
    `jwks_uri` (same origin) and cached. An unknown `kid` refetches it at most once per
    `proconnect_jwks_min_refresh_seconds` (key rotation at the provider), never per request;
    a failed fetch keeps the cached keys, and with none answers 503 (never "accept").
    """

    def __init__(self, settings: Settings) -> None:
        if settings.proconnect_issuer is None:
            raise ValueError("GUICHET_PROCONNECT_ISSUER is not set")
        self.issuer = settings.proconnect_issuer
        self.client_ids = tuple(settings.proconnect_client_ids)
        self.algorithm = settings.proconnect_id_token_alg
        self.allow_http = settings.proconnect_allow_http
        self.leeway = min(settings.jwt_leeway_seconds, 60)
        self.max_bytes = settings.jwt_max_token_bytes
        self.max_lifetime = settings.jwt_max_lifetime_seconds
        self.min_refresh = settings.proconnect_jwks_min_refresh_seconds
        self.timeout = httpx.Timeout(settings.proconnect_timeout_seconds, connect=2.0)
        self._metadata: ProviderMetadata | None = None
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.jwks_fetches = 0  # observed by the key-rotation test

    async def _get(self, url: str) -> httpx.Response:
        if not _same_origin(url, self.issuer, allow_http=self.allow_http):
            raise ServiceUnavailable("Point d'accès du fournisseur d'identité non autorisé.")
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                response = await client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            logger.warning("ProConnect fetch of %s failed: %s", url, exc)
            raise ServiceUnavailable("Le fournisseur d'identité est injoignable.") from exc
        return response

    async def metadata(self) -> ProviderMetadata:
        if self._metadata is None:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            response = await self._get(url)
            try:
                metadata = ProviderMetadata.model_validate_json(response.content)
            except ValidationError as exc:
                raise ServiceUnavailable("Document de découverte ProConnect invalide.") from exc
            if metadata.issuer != self.issuer:
                raise ServiceUnavailable("Le document de découverte annonce un autre émetteur.")
            fetched = (metadata.jwks_uri, metadata.token_endpoint, metadata.userinfo_endpoint)
            for url in filter(None, fetched):
                if not _same_origin(url, self.issuer, allow_http=self.allow_http):
                    raise ServiceUnavailable(
                        "Point d'accès du fournisseur d'identité non autorisé."
                    )
            self._metadata = metadata
        return self._metadata

    async def _refresh(self) -> None:
        """Fetch the JWKS unless it was fetched within the minimum interval."""
        async with self._lock:
            now = time.monotonic()
            if self._fetched_at is not None and now - self._fetched_at < self.min_refresh:
                return
            metadata = await self.metadata()
            self._fetched_at = now
            self.jwks_fetches += 1
            try:
                response = await self._get(metadata.jwks_uri)
                self._keys = signing_keys(
                    JWKS.model_validate_json(response.content), self.algorithm
                )
            except (ServiceUnavailable, ValidationError, ValueError) as exc:
                logger.warning("ProConnect JWKS refresh failed, keeping %d keys", len(self._keys))
                if not self._keys:
                    raise ServiceUnavailable(
                        "Les clés du fournisseur d'identité sont momentanément indisponibles."
                    ) from exc

    async def _key_for(self, token: str) -> Any:
        if len(token.encode("utf-8", "ignore")) > self.max_bytes:
            raise Unauthenticated("Jeton ProConnect trop volumineux.")
        try:
            header = jwt.get_unverified_header(token)
        except (JOSEError, ValueError, TypeError) as exc:
            raise Unauthenticated("Jeton ProConnect mal formé.") from exc
        # RELIABILITY.md §0: the algorithm is the deployment's, never the token's.
        if header.get("alg") != self.algorithm:
            raise Unauthenticated("Algorithme de signature du jeton ProConnect refusé.")
        if "crit" in header:
            raise Unauthenticated("Extension critique (crit) non prise en charge.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("Jeton ProConnect sans identifiant de clé (kid).")
        if kid not in self._keys:
            await self._refresh()  # rotation at the provider: at most once per interval
        if kid not in self._keys:
            raise Unauthenticated("Clé de signature ProConnect inconnue (kid).")
        return self._keys[kid]

    def _audience(self, token: str) -> str:
        """The allowed client id the token is for (jose then checks it against `aud`)."""
        try:
            unverified = jwt.get_unverified_claims(token)
        except (JOSEError, ValueError, TypeError) as exc:
            raise Unauthenticated("Jeton ProConnect mal formé.") from exc
        aud = unverified.get("aud")
        audiences: Sequence[Any] = aud if isinstance(aud, list) else [aud]
        for client_id in self.client_ids:
            if client_id in audiences:
                azp = unverified.get("azp")
                if len(audiences) > 1 and azp != client_id:
                    break
                return client_id
        raise Unauthenticated("Jeton ProConnect destiné à un autre client (aud).")

    async def verify_id_token(self, token: str, *, nonce: str | None = None) -> dict[str, Any]:
        """R-AUTH-2: the verified claims of a ProConnect ID token, or Unauthenticated (401)."""
        key = await self._key_for(token)
        audience = self._audience(token)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[self.algorithm],
                audience=audience,
                issuer=self.issuer,
                options={
                    "require_exp": True,
                    "require_iat": True,
                    "require_aud": True,
                    "require_iss": True,
                    "require_sub": True,
                    "verify_at_hash": False,  # the front-end checks at_hash and nonce
                    "leeway": self.leeway,
                },
            )
        except (JOSEError, ValueError, TypeError, OverflowError) as exc:
            raise Unauthenticated(refusal_detail(exc, "jeton ProConnect")) from exc
        check_registered_claims(
            claims, leeway=self.leeway, max_lifetime=self.max_lifetime, what="jeton ProConnect"
        )
        if nonce is not None and claims.get("nonce") != nonce:
            raise Unauthenticated("Jeton ProConnect rejoué ou d'une autre connexion (nonce).")
        return claims

    async def verify_userinfo(self, body: bytes, *, client_id: str) -> dict[str, Any]:
        """The claims of a signed userinfo response (a JWT for our client, same keys)."""
        token = body.decode("ascii", "replace").strip()
        key = await self._key_for(token)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[self.algorithm],
                audience=client_id,
                issuer=self.issuer,
                options={"require_sub": True, "verify_at_hash": False, "leeway": self.leeway},
            )
        except (JOSEError, ValueError, TypeError, OverflowError) as exc:
            raise Unauthenticated("Réponse userinfo ProConnect invalide.") from exc
        return claims
