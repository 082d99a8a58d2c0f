"""Hostile query input on every list (issue 8, items 1, 2 and 9), through the API.

- timestamp filters (`updated_since` of R-SYNC-1, `submitted_from`, `submitted_to`): a naive
  value, a date alone, a year outside 2000–2999 (with offsets that push it off the calendar),
  an impossible day or hour answer 422 naming the parameter, never 500;
- cursors: a crafted, malformed or foreign cursor answers 422 `invalid-cursor` on every list,
  and the cursors the server issues walk each list to its end;
- départements: `20` and `96` are no COG codes, on every query and path parameter: 422.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.openapi_export import CONTRACT_PATH
from tests.api.budgets.driver import Headers, Money, problem
from tests.conftest import AIX_SIREN, MARSEILLE_SIREN, PARIS_SIREN, Actors
from tests.factories import make_candidate, make_project

CANDIDATES = "/api/v1/candidates"
PROJECTS = "/api/v1/projects"
ENVELOPES = "/api/v1/envelopes"
LEDGER_13 = "/api/v1/envelopes/13/ledger"

# Every list and its timestamp filters.
TIMESTAMP_FILTERS = [
    (CANDIDATES, "updated_since"),
    (PROJECTS, "updated_since"),
    (PROJECTS, "submitted_from"),
    (PROJECTS, "submitted_to"),
    (ENVELOPES, "updated_since"),
    (LEDGER_13, "updated_since"),
]
LISTS = [CANDIDATES, PROJECTS, ENVELOPES, LEDGER_13]

BAD_TIMESTAMPS = [
    "2021-01-01T00:00:00",  # naive: the UTC column type refused it (500)
    "2021-01-01",  # a date alone
    "0001-01-01T00:00:00+14:00",  # before year 1 once in UTC
    "9999-12-31T23:59:59-12:00",  # after year 9999 once in UTC
    "1999-12-31T23:59:59Z",  # outside 2000–2999
    "3000-01-01T00:00:00Z",
    "2021-02-29T00:00:00Z",  # not a leap year
    "2021-04-31T00:00:00Z",
    "2021-01-01T24:00:00Z",
    "2021-01-01T23:59:60Z",  # leap second
    "2021-01-01T00:00:00+24:00",
    "2021-01-01T00:00:00.1234567Z",  # 7 decimals
    "2021-01-01 00:00:00Z",
    "2021-01-01t00:00:00z",
    "1614556800",  # a Unix timestamp
    "",
]


def b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


ZERO = "00000000-0000-0000-0000-000000000000"
CRAFTED_CURSORS = [
    b64(["2021-01-01T00:00:00", ZERO]),  # the probe's: a naive timestamp (500 before)
    b64([1, ZERO]),  # an integer
    b64(["2021-01-01", ZERO]),  # a date alone
    b64({"created": "2021-01-01T00:00:00Z", "id": ZERO}),  # an object
    b64(["2021-01-01T00:00:00Z"]),  # wrong arity
    b64(["2021-01-01T00:00:00Z", ZERO, 3]),
    "MQ",  # base64 of "1": the ledger's former format
    "0",
    "projects.1614556800000000",  # arity
    "projects.99999999999999999.00000000000000000000000000000000",  # past year 2286
    "projects.01.00000000000000000000000000000000",  # leading zero
    "projects.1.0000000000000000000000000000000G",
    "projects.1.0000000000000000000000000000000A",  # upper-case hex
    "ledger.2147483648",  # beyond INTEGER
    "ledger.-1",
    "ledger.",
    "candidates.1.00000000000000000000000000000000 ",
    "x" * 201,
]


def names_query_parameter(body: dict[str, Any], name: str) -> bool:
    return any(e.get("in") == "query" and e.get("field") == name for e in body["errors"])


@pytest.fixture
def dinum(headers: Headers, actors: Actors) -> dict[str, str]:
    return headers(actors.dinum)


# -- 1. timestamps ----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD_TIMESTAMPS)
@pytest.mark.parametrize(("url", "parameter"), TIMESTAMP_FILTERS)
async def test_r_sync_1_a_timestamp_filter_without_offset_or_off_range_is_422(
    client: AsyncClient, dinum: dict[str, str], url: str, parameter: str, bad: str
) -> None:
    response = await client.get(url, params={parameter: bad}, headers=dinum)
    body = problem(response, 422, "validation-error")
    assert names_query_parameter(body, parameter), body["errors"]


async def test_r_sync_1_updated_since_compares_instants_whatever_their_offset(
    client: AsyncClient, session: AsyncSession, dinum: dict[str, str]
) -> None:
    candidate = await make_candidate(session, siren=MARSEILLE_SIREN)
    updated = candidate.updated_at
    plus_14 = timezone(timedelta(hours=14))
    minus_12 = timezone(timedelta(hours=-12))
    cases = {
        # the very instant, written in UTC and at +14:00: listed (updated_at >= since)
        updated.isoformat().replace("+00:00", "Z"): True,
        updated.astimezone(plus_14).isoformat(): True,
        # one microsecond later, at -12:00: not listed
        (updated + timedelta(microseconds=1)).astimezone(minus_12).isoformat(): False,
    }
    for since, listed in cases.items():
        response = await client.get(CANDIDATES, params={"updated_since": since}, headers=dinum)
        assert response.status_code == 200, (since, response.text)
        ids = [item["id"] for item in response.json()["items"]]
        assert (str(candidate.id) in ids) is listed, since


async def test_submitted_from_and_to_bound_the_projects_listed(
    client: AsyncClient, session: AsyncSession, dinum: dict[str, str]
) -> None:
    candidate = await make_candidate(session, siren=MARSEILLE_SIREN)
    project = await make_project(
        session,
        candidate=candidate,
        status="submitted",
        submitted_at=datetime(2021, 3, 1, 12, tzinfo=UTC),
    )
    windows = {
        ("2021-03-01T12:00:00Z", "2021-03-01T12:00:00Z"): True,
        ("2021-03-01T13:00:00+01:00", "2021-03-01T07:00:00-05:00"): True,
        ("2021-03-01T12:00:00.000001Z", "2021-12-31T00:00:00Z"): False,
        ("2021-01-01T00:00:00Z", "2021-03-01T11:59:59.999999Z"): False,
    }
    for (start, end), listed in windows.items():
        response = await client.get(
            PROJECTS, params={"submitted_from": start, "submitted_to": end}, headers=dinum
        )
        assert response.status_code == 200, response.text
        ids = [item["id"] for item in response.json()["items"]]
        assert (str(project.id) in ids) is listed, (start, end)


# -- 2. cursors -------------------------------------------------------------------------------


@pytest.mark.parametrize("cursor", CRAFTED_CURSORS)
@pytest.mark.parametrize("url", LISTS)
async def test_a_crafted_cursor_is_422_invalid_cursor_on_every_list(
    client: AsyncClient, dinum: dict[str, str], url: str, cursor: str
) -> None:
    response = await client.get(url, params={"cursor": cursor}, headers=dinum)
    body = problem(response, 422, "invalid-cursor")
    assert names_query_parameter(body, "cursor"), body["errors"]


FOREIGN = {
    CANDIDATES: ["projects.1614556800000000." + "0" * 32, "envelopes.0." + "f" * 32, "ledger.1"],
    PROJECTS: ["candidates.1614556800000000." + "0" * 32, "ledger.7"],
    ENVELOPES: ["projects.-1." + "a" * 32, "ledger.0"],
    LEDGER_13: ["envelopes.1614556800000000." + "0" * 32, "candidates.5." + "1" * 32],
}


@pytest.mark.parametrize(
    ("url", "cursor"), [(url, cursor) for url, cursors in FOREIGN.items() for cursor in cursors]
)
async def test_a_cursor_of_another_list_is_422_invalid_cursor(
    client: AsyncClient, dinum: dict[str, str], url: str, cursor: str
) -> None:
    problem(await client.get(url, params={"cursor": cursor}, headers=dinum), 422, "invalid-cursor")


async def _walk(client: AsyncClient, url: str, headers: dict[str, str]) -> list[str]:
    """Every id of the list, one item per page, checking each cursor against the contract."""
    contract = json.loads(CONTRACT_PATH.read_text())
    parameters = contract["paths"][url.replace("/13/", "/{departement}/")]["get"]["parameters"]
    (cursor_schema,) = [p["schema"] for p in parameters if p["name"] == "cursor"]
    ids: list[str] = []
    params: dict[str, Any] = {"limit": 1}
    for _ in range(50):
        response = await client.get(url, params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        ids += [str(item["id"]) for item in page["items"]]
        cursor = page.get("next_cursor")
        if cursor is None:
            return ids
        assert re.fullmatch(cursor_schema["pattern"], cursor), cursor
        params["cursor"] = cursor
    raise AssertionError("the cursors never reach the end of the list")


async def test_issued_cursors_walk_candidates_and_projects_to_their_end(
    client: AsyncClient, session: AsyncSession, dinum: dict[str, str]
) -> None:
    made = [
        await make_candidate(session, siren=s) for s in (MARSEILLE_SIREN, AIX_SIREN, PARIS_SIREN)
    ]
    projects = [await make_project(session, candidate=c) for c in made for _ in range(2)]
    assert sorted(await _walk(client, CANDIDATES, dinum)) == sorted(str(c.id) for c in made)
    assert sorted(await _walk(client, PROJECTS, dinum)) == sorted(str(p.id) for p in projects)


async def test_issued_cursors_walk_envelopes_and_the_ledger_to_their_end(
    client: AsyncClient, session: AsyncSession, headers: Headers, actors: Actors
) -> None:
    money = Money(client, session, headers, actors)
    for departement in ("13", "75"):
        assert (await money.allocate(departement, 1_000_000)).status_code == 201
    assert (await money.allocate("13", 500_000, reference="Complément")).status_code == 201
    dinum = headers(actors.dinum)
    assert len(await _walk(client, ENVELOPES, dinum)) == 2
    movements = await _walk(client, LEDGER_13, dinum)
    assert len(movements) == 2 and movements == sorted(movements, key=int)


# -- 9. départements --------------------------------------------------------------------------

NOT_COG = ["20", "96", "00", "2C", "979", "013", "13 "]


@pytest.mark.parametrize("code", NOT_COG)
@pytest.mark.parametrize("url", [CANDIDATES, PROJECTS])
async def test_r_ref_1_a_departement_filter_that_is_no_cog_code_is_422(
    client: AsyncClient, dinum: dict[str, str], url: str, code: str
) -> None:
    body = problem(
        await client.get(url, params={"departement": code}, headers=dinum), 422, "validation-error"
    )
    assert names_query_parameter(body, "departement"), body["errors"]


@pytest.mark.parametrize("code", NOT_COG)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", ""),
        ("GET", "/ledger"),
        ("GET", "/forfaits"),
        ("PUT", "/forfaits"),
        ("POST", "/allocations"),
    ],
)
async def test_r_ref_1_an_envelope_path_that_is_no_cog_code_is_422(
    client: AsyncClient,
    headers: Headers,
    actors: Actors,
    code: str,
    method: str,
    path: str,
) -> None:
    who = actors.pref13 if method == "PUT" else actors.dinum
    response = await client.request(
        method,
        f"{ENVELOPES}/{quote(code)}{path}",
        json={} if method != "GET" else None,
        headers={**headers(who), "If-Match": '"v0"'},
    )
    body = problem(response, 422, "validation-error")
    assert {"in": "path", "field": "departement"}.items() <= next(
        e for e in body["errors"] if e["field"] == "departement"
    ).items()


@pytest.mark.parametrize("code", ["2A", "2B", "974", "976"])
async def test_r_ref_1_every_cog_code_filters(
    client: AsyncClient, dinum: dict[str, str], code: str
) -> None:
    for url in (CANDIDATES, PROJECTS):
        response = await client.get(url, params={"departement": code}, headers=dinum)
        assert response.status_code == 200, response.text
