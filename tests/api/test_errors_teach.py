"""Errors that teach (issue 27 point 4): every error family answers in French with what the
client needs to fix the request: the allowed values, the bound, the length, the pattern, the
expected date form, the line and column of malformed JSON, the body field really in cause
(R-COM-3 motivation, R-CAP-2), the If-Match header of a 428 (R-FLOW-3), why a token is refused
(R-AUTH-1, RFC 6750 `error_description`), and how CORS is enabled.

One row per family: the request, then the status, `code`, the item's `in` and `field` and a
substring of its message (or of `detail` when the problem has no item). A last test reads every
answer of the table for English.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from tests.conftest import MARSEILLE_SIREN, Actors
from tests.factories import make_candidate
from tests.unit.auth.jwt_forge import DROP, hs256_token

PROJECTS = "/api/v1/projects"
ME = "/api/v1/auth/me"

DRAFT: dict[str, Any] = {
    "strand": "3b",
    "title": "Formation",
    "description": "Former les agents.",
    "start_on": "2021-03-01",
    "end_on": "2023-06-30",
    "expense_lines": [{"category": "equipment_agents", "label": "PC", "amount_cents": 1_000}],
    "other_funding": [],
    "requested_cents": 500,
}


@dataclass
class Ctx:
    client: AsyncClient
    headers: Callable[[Any], dict[str, str]]
    actors: Actors
    settings: Settings
    session: AsyncSession


Send = Callable[[Ctx], Awaitable[Response]]


@dataclass(frozen=True)
class Row:
    send: Send
    status: int
    code: str | None  # the problem's `code` (None: the first of several rules, not checked)
    item_code: str | None  # the item's `code`, None when the problem lists no item
    where: str | None = None  # the item's `in`
    field: str | None = None  # the item's `field`
    says: str = ""  # in the item's message (or in `detail` when there is no item)
    challenge: str | None = None  # in WWW-Authenticate


def _draft(**changes: Any) -> Send:
    async def send(ctx: Ctx) -> Response:
        body = {k: v for k, v in {**DRAFT, **changes}.items() if v is not DROP}
        return await ctx.client.post(PROJECTS, json=body, headers=ctx.headers(ctx.actors.cand_a))

    return send


def _get(url: str) -> Send:
    async def send(ctx: Ctx) -> Response:
        return await ctx.client.get(url, headers=ctx.headers(ctx.actors.pref13))

    return send


def _raw_draft(content: str) -> Send:
    async def send(ctx: Ctx) -> Response:
        return await ctx.client.post(
            PROJECTS,
            content=content.encode(),
            headers={**ctx.headers(ctx.actors.cand_a), "Content-Type": "application/json"},
        )

    return send


async def _rejected_without_motivation(ctx: Ctx) -> Response:
    """R-COM-3: the body is refused before the committee is even looked up."""
    return await ctx.client.post(
        f"/api/v1/committees/{uuid.uuid4()}/decisions",
        json={"project_id": str(uuid.uuid4()), "outcome": "rejected"},
        headers={**ctx.headers(ctx.actors.pref13), "If-Match": '"v1"'},
    )


async def _submit_request_over_cost(ctx: Ctx) -> Response:
    """R-CAP-2: 20 € asked for a project costing 10 €, no other funding: the request alone."""
    draft = {**DRAFT, "requested_cents": 2_000}
    created = await ctx.client.post(PROJECTS, json=draft, headers=ctx.headers(ctx.actors.cand_a))
    assert created.status_code == 201, created.text
    return await ctx.client.post(
        f"{PROJECTS}/{created.json()['id']}/submit",
        headers={**ctx.headers(ctx.actors.cand_a), "If-Match": created.headers["ETag"]},
    )


async def _submit_funding_over_cost(ctx: Ctx) -> Response:
    """R-CAP-2: 5 € asked + 8 € of other funding for 10 €: the funding tips it over."""
    draft = {**DRAFT, "other_funding": [{"funder": "Région", "amount_cents": 800}]}
    created = await ctx.client.post(PROJECTS, json=draft, headers=ctx.headers(ctx.actors.cand_a))
    assert created.status_code == 201, created.text
    return await ctx.client.post(
        f"{PROJECTS}/{created.json()['id']}/submit",
        headers={**ctx.headers(ctx.actors.cand_a), "If-Match": created.headers["ETag"]},
    )


async def _patch_programme_without_if_match(ctx: Ctx) -> Response:
    return await ctx.client.patch(
        "/api/v1/programme",
        json={"committee_filing_threshold": 9},
        headers=ctx.headers(ctx.actors.dinum),
    )


def _token(**claims: Any) -> Send:
    async def send(ctx: Ctx) -> Response:
        token = hs256_token(ctx.settings, **claims)
        return await ctx.client.get(ME, headers={"Authorization": f"Bearer {token}"})

    return send


async def _bad_signature(ctx: Ctx) -> Response:
    token = hs256_token(ctx.settings)
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[::-1]}"
    return await ctx.client.get(ME, headers={"Authorization": f"Bearer {forged}"})


async def _preflight(ctx: Ctx) -> Response:
    return await ctx.client.options(
        PROJECTS,
        headers={"Origin": "https://front.example", "Access-Control-Request-Method": "POST"},
    )


NOW = int(time.time())

ROWS = {
    "enum-gives-the-allowed-values": Row(
        _draft(nature="cloud"),
        422,
        "validation-error",
        "enum",
        "body",
        "/nature",
        "attendu l'une de : transformation, innovation, modernisation.",
    ),
    "query-bound-gives-the-minimum": Row(
        _get(f"{PROJECTS}?limit=0"),
        422,
        "validation-error",
        "greater_than_equal",
        "query",
        "limit",
        "Valeur trop petite : minimum 1.",
    ),
    "query-bound-gives-the-maximum": Row(
        _get(f"{PROJECTS}?limit=201"),
        422,
        "validation-error",
        "less_than_equal",
        "query",
        "limit",
        "Valeur trop grande : maximum 200.",
    ),
    "body-bound-gives-the-minimum": Row(
        _draft(requested_cents=-1),
        422,
        "validation-error",
        "greater_than_equal",
        "body",
        "/requested_cents",
        "minimum 0",
    ),
    "length-gives-the-maximum": Row(
        _draft(title="x" * 201),
        422,
        "validation-error",
        "string_too_long",
        "body",
        "/title",
        "au plus 200 caractères",
    ),
    "pattern-is-said": Row(
        _draft(programme="fitn7 axe3"),
        422,
        "validation-error",
        "string_pattern_mismatch",
        "body",
        "/programme",
        "motif ^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$",
    ),
    "own-validator-without-value-error-prefix": Row(
        _draft(requested_cents="12"),
        422,
        "validation-error",
        "value_error",
        "body",
        "/requested_cents",
        "Un entier JSON est attendu.",
    ),
    "date-out-of-calendar-in-french": Row(
        _draft(start_on="2021-13-01"),
        422,
        "validation-error",
        "date_from_datetime_parsing",
        "body",
        "/start_on",
        "mois hors de 01 à 12",
    ),
    "missing-field": Row(
        _draft(title=DROP),
        422,
        "validation-error",
        "missing",
        "body",
        "/title",
        "Champ obligatoire manquant.",
    ),
    "malformed-json-by-line-and-column": Row(
        _raw_draft('{\n  "title": /15\n}'),
        422,
        "validation-error",
        "json_invalid",
        "body",
        "",
        "valeur attendue (ligne 2, colonne 12)",
    ),
    "r-com-3-rejection-without-motivation-points-at-it": Row(
        _rejected_without_motivation,
        422,
        "validation-error",
        "missing",
        "body",
        "/motivation",
        "Champ obligatoire manquant.",
    ),
    "r-cap-2-points-at-the-request-when-it-alone-exceeds": Row(
        _submit_request_over_cost,
        422,
        None,
        "R-CAP-2",
        "body",
        "/requested_cents",
        "à lui seul",
    ),
    "r-cap-2-points-at-the-funding-otherwise": Row(
        _submit_funding_over_cost,
        422,
        None,
        "R-CAP-2",
        "body",
        "/other_funding",
        "supérieurs au coût total",
    ),
    "r-flow-3-428-names-the-if-match-header": Row(
        _patch_programme_without_if_match,
        428,
        "R-FLOW-3",
        "R-FLOW-3",
        "header",
        "If-Match",
        "En-tête If-Match manquant",
    ),
    "r-auth-1-expired-token": Row(
        _token(iat=NOW - 1_000, exp=NOW - 500),
        401,
        "R-AUTH-1",
        None,
        says="Jeton expiré",
        challenge='error_description="Jeton expire (exp)',
    ),
    "r-auth-1-bad-signature": Row(
        _bad_signature,
        401,
        "R-AUTH-1",
        None,
        says="Signature du jeton invalide",
        challenge='error_description="Signature du jeton invalide',
    ),
    "r-auth-1-missing-claim": Row(
        _token(aud=DROP),
        401,
        "R-AUTH-1",
        None,
        says="sans claim obligatoire `aud`",
        challenge="sans claim obligatoire `aud`",
    ),
    "cors-preflight-without-origins-names-the-setting": Row(
        _preflight, 400, "cors-disabled", None, says="GUICHET_CORS_ORIGINS"
    ),
}


@pytest.fixture
async def ctx(
    client: AsyncClient, headers: Any, actors: Actors, settings: Settings, session: AsyncSession
) -> Ctx:
    await make_candidate(session, siren=MARSEILLE_SIREN)
    return Ctx(client, headers, actors, settings, session)


def _item(body: dict[str, Any], row: Row) -> dict[str, Any]:
    matching = [e for e in body["errors"] if e["code"] == row.item_code]
    assert matching, body
    if row.field is not None:
        matching = [e for e in matching if e["field"] == row.field]
    assert len(matching) == 1, body
    return matching[0]


@pytest.mark.parametrize("name", list(ROWS))
async def test_each_error_family_teaches_what_to_fix(ctx: Ctx, name: str) -> None:
    row = ROWS[name]
    response = await row.send(ctx)
    assert response.status_code == row.status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == row.status
    assert row.code is None or body["code"] == row.code, body
    if row.item_code is None:
        assert row.says in body["detail"], body
    else:
        item = _item(body, row)
        assert (item["in"], item["field"]) == (row.where, row.field), item
        assert row.says in item["message"], item
    if row.challenge is not None:
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith('Bearer error="invalid_token", error_description="')
        assert row.challenge in challenge, challenge
        assert challenge.isascii()
    if name.startswith("cors"):  # it grants nothing
        assert not any(h.lower().startswith("access-control-allow") for h in response.headers)


# pydantic's, jose's and json's English, as they would leak
ENGLISH = (
    "Input should",
    "Value error",
    "Field required",
    "String should",
    "List should",
    "should have",
    "Expecting",
    "Signature has expired",
    "Signature verification failed",
    "Invalid",
    "missing required key",
    "JSON decode error",
    "Extra inputs",
)


async def test_no_answer_of_the_table_speaks_english(ctx: Ctx) -> None:
    texts = []
    for row in ROWS.values():
        body = (await row.send(ctx)).json()
        texts.append(body["detail"])
        texts.extend(item["message"] for item in body["errors"])
    assert len(texts) > len(ROWS)
    leaks = [t for t in texts if any(word in t for word in ENGLISH)]
    assert leaks == []
