"""panva's oidc-provider (tests/oidc, pinned in its package-lock.json) run with the machine's
Node.js on 127.0.0.1, and a browser driven with httpx through its login and consent pages."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.unit.auth.jwt_forge import RsaKey, b64url, new_rsa_key

OIDC_DIR = Path(__file__).resolve().parents[2] / "oidc"
FRONT_ID = "guichet-front"
FRONT_SECRET = "front-secret-0123456789abcdef0123456789"  # noqa: S105 - test client
FRONT_REDIRECT = "http://front.test/connexion/retour"
API_ID = "guichet-api"
API_SECRET = "api-secret-0123456789abcdef0123456789ab"  # noqa: S105 - test client
API_BASE = "http://api.test"
API_REDIRECT = f"{API_BASE}/api/v1/auth/proconnect/callback"
FRONT_PAGE = "http://front.test/connexion/code"
POST_LOGOUT = "http://front.test/au-revoir"
SCOPES = "openid email given_name usual_name uid siret idp_id organization_label roles"


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def private_jwk(key: RsaKey) -> dict[str, Any]:
    """The key as a private RSA JWK (what oidc-provider signs with)."""
    private = key.private.private_numbers()
    return {
        **key.public_jwk(),
        "d": _int_b64(private.d),
        "p": _int_b64(private.p),
        "q": _int_b64(private.q),
        "dp": _int_b64(private.dmp1),
        "dq": _int_b64(private.dmq1),
        "qi": _int_b64(private.iqmp),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Provider:
    issuer: str
    process: subprocess.Popen[str]
    keys: list[RsaKey] = field(default_factory=list)

    @property
    def signing_key(self) -> RsaKey:
        return self.keys[0]

    def rotate(self) -> RsaKey:
        """A new signing key at the provider (the old ones stay published)."""
        key = new_rsa_key(f"k{len(self.keys) + 1}")
        httpx.post(f"{self.issuer}/test/rotate", content=json.dumps(private_jwk(key)))
        self.keys.insert(0, key)
        return key

    def stats(self) -> dict[str, int]:
        result: dict[str, int] = httpx.get(f"{self.issuer}/test/stats").json()
        return result

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def ec_private_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    numbers = key.private_numbers()
    point = numbers.public_numbers

    def coord(value: int) -> str:
        return b64url(value.to_bytes(32, "big"))

    return {
        "kty": "EC",
        "crv": "P-256",
        "kid": kid,
        "use": "sig",
        "alg": "ES256",
        "x": coord(point.x),
        "y": coord(point.y),
        "d": coord(numbers.private_value),
    }


def start_provider(
    tmp: Path,
    accounts: dict[str, dict[str, Any]],
    *,
    alg: str = "RS256",
    api_redirect: str = API_REDIRECT,
) -> Provider:
    """The provider signing ID tokens and userinfo with `alg` (RS256, or ES256 with an EC
    P-256 key published beside the RSA one); the API's client redirects to `api_redirect`
    (a real server's callback in the browser tests)."""
    node = shutil.which("node")
    assert node, "Node.js is required (the machine's node 20)"
    assert (OIDC_DIR / "node_modules" / "oidc-provider").is_dir(), (
        "run `npm ci` in tests/oidc (.ci/run does)"
    )
    port = _free_port()
    issuer = f"http://127.0.0.1:{port}"
    key = new_rsa_key("k1")
    keys = [private_jwk(key)]
    if alg == "ES256":
        keys.insert(0, ec_private_jwk(ec.generate_private_key(ec.SECP256R1()), "e1"))
    client = {
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_post",
        "id_token_signed_response_alg": alg,
        "userinfo_signed_response_alg": alg,
    }
    config = {
        "port": port,
        "issuer": issuer,
        "accounts": accounts,
        "keys": keys,
        "clients": [
            {
                **client,
                "client_id": FRONT_ID,
                "client_secret": FRONT_SECRET,
                "redirect_uris": [FRONT_REDIRECT],
            },
            {
                **client,
                "client_id": API_ID,
                "client_secret": API_SECRET,
                "redirect_uris": [api_redirect],
                "post_logout_redirect_uris": [POST_LOGOUT],
            },
        ],
    }
    path = tmp / "oidc-config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    process = subprocess.Popen(  # noqa: S603 - fixed arguments
        [node, str(OIDC_DIR / "provider.mjs"), str(path)],
        cwd=OIDC_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("ready "):
            # Drain its log from now on, so that a full pipe never blocks the provider.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return Provider(issuer, process, [key])
    process.kill()
    raise AssertionError("oidc-provider did not start:\n" + "".join(lines))


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, b64url(digest)


FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')
PROMPT = re.compile(r'name="prompt" value="([a-z]+)"')


async def browse_to_redirect(
    browser: httpx.AsyncClient, url: str, login: str, redirect_prefix: str
) -> dict[str, str]:
    """Follow the provider's pages as a browser would: log `login` in, consent, and stop at
    the redirect to `redirect_prefix`; returns its query (code, state…)."""
    response = await browser.get(url)
    for _ in range(20):
        if response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(redirect_prefix):
                return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
            response = await browser.get(location)
            continue
        assert response.status_code == 200, response.text
        action = urljoin(str(response.url), FORM_ACTION.search(response.text).group(1))  # type: ignore[union-attr]
        prompt = PROMPT.search(response.text).group(1)  # type: ignore[union-attr]
        form = {"prompt": prompt}
        if prompt == "login":
            form |= {"login": login, "password": "x"}
        response = await browser.post(action, data=form)
    raise AssertionError("the provider never redirected back")


async def front_end_sign_in(provider: Provider, login: str) -> dict[str, Any]:
    """What a front-end does with its own client id: the authorization-code flow with PKCE,
    then the code at the token endpoint. Returns the provider's token response."""
    verifier, challenge = pkce()
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": FRONT_ID,
            "redirect_uri": FRONT_REDIRECT,
            "scope": SCOPES,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    async with httpx.AsyncClient(timeout=10) as browser:
        back = await browse_to_redirect(
            browser, f"{provider.issuer}/auth?{query}", login, FRONT_REDIRECT
        )
        assert back.get("state") == state, back
        response = await browser.post(
            f"{provider.issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": back["code"],
                "redirect_uri": FRONT_REDIRECT,
                "code_verifier": verifier,
                "client_id": FRONT_ID,
                "client_secret": FRONT_SECRET,
            },
        )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def other_key() -> rsa.RSAPrivateKey:
    return new_rsa_key("other").private
