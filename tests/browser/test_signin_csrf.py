"""R-AUTH-2 in a real browser (issue 23.2, RFC 6749 §10.12 login CSRF): Debian's Chromium signs
in through the real server (`python -m app serve`) and panva's oidc-provider (tests/oidc),
driving the provider's login and consent pages. The callback ProConnect sends the browser back
to is held in context A and opened first in context B, another browser (without a login
cookie, then with its own login's): refused with 403 R-AUTH-2. Opened in A, the browser that
started the login, it lands on the front-end's page with a one-time code, which redeems for the
agent's token; A's login cookie is then gone.

The login cookie is `__Host-…; Secure`, set over http://127.0.0.1: Chromium accepts Secure
cookies from a potentially trustworthy origin (loopback), which the test checks first.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import pytest_asyncio

from tests.api.signin.oidc_provider import (
    API_ID,
    API_SECRET,
    Provider,
    start_provider,
)
from tests.browser.conftest import free_port, serve
from tests.support import create_database, drop_database, siret_of

LOGIN = "/api/v1/auth/proconnect/login"
CALLBACK = "/api/v1/auth/proconnect/callback"
LOGIN_COOKIE = "__Host-guichet-proconnect"
FRONT = "/tableau-de-bord/"  # the service's dashboard: it redeems the callback's code
ACCOUNTS = {
    "mairie": {
        "siret": siret_of("211300553", "0001"),  # Marseille: a collectivité of the reference
        "email": "agent@marseille.fr",
        "organization_label": "Mairie de Marseille",
        "roles": ["agent_public", "agent_public_territorial"],
    }
}


@dataclass
class Stack:
    base: str
    provider: Provider


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory, port: int) -> Iterator[Provider]:
    redirect = f"http://127.0.0.1:{port}{CALLBACK}"
    handle = start_provider(tmp_path_factory.mktemp("oidc"), ACCOUNTS, api_redirect=redirect)
    yield handle
    handle.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(
    tmp_path_factory: pytest.TempPathFactory, provider: Provider, port: int
) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("browser-signin")
    url = await create_database(tmp, "browser_signin")
    env = {
        "GUICHET_PROCONNECT_ISSUER": provider.issuer,
        "GUICHET_PROCONNECT_CLIENT_IDS": json.dumps([API_ID]),
        "GUICHET_PROCONNECT_ALLOW_HTTP": "true",
        "GUICHET_PROCONNECT_CLIENT_ID": API_ID,
        "GUICHET_PROCONNECT_CLIENT_SECRET": API_SECRET,
        "GUICHET_PROCONNECT_REDIRECT_URI": f"http://127.0.0.1:{port}{CALLBACK}",
        "GUICHET_PROCONNECT_FRONTEND_REDIRECT_URI": f"http://127.0.0.1:{port}{FRONT}",
        "GUICHET_PROCONNECT_SCOPES": "openid email siret organization_label roles",
        "GUICHET_PROCONNECT_USERINFO": "true",
    }
    try:
        with serve(url, tmp / "server.log", port=port, **env) as base:
            yield Stack(base, provider)
    finally:
        await drop_database(url)


def _is_callback(url: str) -> bool:
    return urlsplit(url).path == CALLBACK


async def _login_cookie(context: object) -> dict[str, object] | None:
    cookies = await context.cookies()  # type: ignore[attr-defined]
    found = [c for c in cookies if c["name"] == LOGIN_COOKIE]
    return found[0] if found else None


async def test_r_auth_2_a_callback_opened_in_another_browser_is_refused(
    stack: Stack, chromium: str
) -> None:
    from playwright.async_api import Route, async_playwright

    resumed: list[str] = []

    async def hold_consent(route: Route) -> None:
        """The provider's answer to the consent form, fetched without following it: the
        browser stops there (a redirect chain cannot be intercepted further on), so that the
        callback is not reached yet."""
        request = route.request
        if request.method != "POST" or "prompt=consent" not in (request.post_data or ""):
            await route.continue_()
            return
        response = await route.fetch(max_redirects=0)
        resumed.append(urljoin(request.url, response.headers["location"]))
        await route.fulfill(status=200, content_type="text/html", body="<p>held</p>")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox"]
        )
        try:
            a, b = await browser.new_context(), await browser.new_context()
            await a.route(lambda url: url.startswith(stack.provider.issuer), hold_consent)

            # A starts the login: the cookie (Secure, on loopback http) and the provider's page.
            page_a = await a.new_page()
            await page_a.goto(f"{stack.base}{LOGIN}")
            assert page_a.url.startswith(f"{stack.provider.issuer}/"), page_a.url
            cookie = await _login_cookie(a)
            assert cookie is not None, "no login cookie in A: not set, or refused by Chromium"
            assert (cookie["secure"], cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (
                True,
                True,
                "Lax",
                "/",
            )
            await page_a.fill('input[name="login"]', "mairie")
            await page_a.fill('input[name="password"]', "x")
            await page_a.click('button[type="submit"]')
            consent = 'input[name="prompt"][value="consent"]'
            await page_a.wait_for_selector(consent, state="attached")
            await page_a.click('button[type="submit"]')
            await page_a.wait_for_selector("text=held")
            # The provider's resumption, with A's cookies, up to its redirect to the callback.
            (location,) = resumed
            for _ in range(5):
                if _is_callback(location):
                    break
                hop = await a.request.get(location, max_redirects=0)
                location = urljoin(location, hop.headers["location"])
            callback = location
            query = parse_qs(urlsplit(callback).query)
            assert set(query) >= {"state", "code"} and query["state"] == [cookie["value"]]

            # B, another browser: no login cookie, then its own login's cookie. Refused.
            page_b = await b.new_page()
            for attempt in ("no cookie", "its own login"):
                if attempt == "its own login":
                    await page_b.goto(f"{stack.base}{LOGIN}")
                    own = await _login_cookie(b)
                    assert own is not None and own["value"] != cookie["value"]
                response = await page_b.goto(callback)
                assert response is not None
                assert response.status == 403, attempt
                body = json.loads(await response.text())
                assert body["code"] == "R-AUTH-2" and "navigateur" in body["detail"], body
                assert urlsplit(page_b.url).path == CALLBACK

            # A, the browser that started the login: the callback lands on the front-end (the
            # service's dashboard) with a one-time code, which the page redeems for a token.
            token_path = "/api/v1/auth/token"
            async with page_a.expect_response(lambda r: urlsplit(r.url).path == token_path) as info:
                landing = await page_a.goto(callback)
            assert landing is not None and landing.status == 200
            arrived = landing.request
            assert arrived.redirected_from is not None
            assert arrived.redirected_from.url == callback
            assert arrived.url.startswith(f"{stack.base}{FRONT}?")
            assert set(parse_qs(urlsplit(arrived.url).query)) == {"code"}
            token = await info.value
            assert token.status == 200, await token.text()
            body = await token.json()
            assert (body["role"], body["siren"]) == ("candidate", "211300553")
            assert await _login_cookie(a) is None  # cleared after use
        finally:
            await browser.close()


def test_the_browser_test_reads_the_cookie_name_the_service_sets() -> None:
    """The name above is the service's (a rename would otherwise only show as a refusal)."""
    from app.signin.router import LOGIN_COOKIE as SERVICE_COOKIE

    assert SERVICE_COOKIE == LOGIN_COOKIE
