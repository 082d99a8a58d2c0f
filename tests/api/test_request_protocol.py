"""If-Match (R-FLOW-3) and the body's media type on every kind of write (issue 8, item 7).

- If-Match absent or `*` answers 428: `*` matches any version, so it proves no read of the ETag
  that R-FLOW-3 asks for; a well-formed tag that is not the current one (or weak) 412; a value
  that is no entity-tag at all 422 naming the header; a list holding the current tag succeeds.
- A JSON body sent under another media type (text/plain, a form, none) answers 415, not a
  « champ manquant » 422.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tests.api.budgets.driver import Headers, problem
from tests.conftest import MARSEILLE_SIREN, Actors
from tests.factories import make_candidate, make_project


@dataclass(frozen=True)
class Write:
    method: str
    url: str
    body: dict[str, Any]
    auth: dict[str, str]
    etag: str  # the current ETag


WRITES = ["update_project", "update_candidate", "update_programme", "set_forfaits"]


@pytest.fixture
async def writes(
    client: AsyncClient, session: AsyncSession, headers: Headers, actors: Actors
) -> dict[str, Write]:
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    project = await make_project(session, candidate=marseille)
    programme_etag = (await client.get("/api/v1/programme")).headers["ETag"]
    tiers = [  # R-CAP-3: a schedule covers every eligible kind
        {"label": "Communes", "kinds": ["commune"], "amount_cents": 800_000},
        {
            "label": "Autres catégories",
            "kinds": [
                "departement",
                "region",
                "epci",
                "syndicat",
                "collectivite_outre_mer",
                "public_body",
            ],
            "amount_cents": 2_000_000,
        },
    ]
    return {
        "update_project": Write(
            "PATCH",
            f"/api/v1/projects/{project.id}",
            {"title": "Nouveau titre"},
            headers(actors.cand_a),
            f'"v{project.version}"',
        ),
        "update_candidate": Write(
            "PATCH",
            f"/api/v1/candidates/{marseille.id}",
            {"contact": {"name": "DSI"}},
            headers(actors.cand_a),
            f'"v{marseille.version}"',
        ),
        "update_programme": Write(
            "PATCH",
            "/api/v1/programme",
            {"committee_filing_threshold": 12},
            headers(actors.dinum),
            programme_etag,
        ),
        "set_forfaits": Write(
            "PUT", "/api/v1/envelopes/13/forfaits", {"tiers": tiers}, headers(actors.pref13), '"v0"'
        ),
    }


async def send(client: AsyncClient, write: Write, if_match: str | None, **extra: Any) -> Response:
    request_headers = {**write.auth, **extra.pop("headers", {})}
    if if_match is not None:
        request_headers["If-Match"] = if_match
    if "content" not in extra:
        extra["json"] = write.body
    return await client.request(write.method, write.url, headers=request_headers, **extra)


# -- If-Match ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", WRITES)
async def test_r_flow_3_if_match_star_is_428_as_it_proves_no_read(
    client: AsyncClient, writes: dict[str, Write], name: str
) -> None:
    write = writes[name]
    for value in ("*", f"{write.etag}, *"):
        body = problem(await send(client, write, value), 428, "R-FLOW-3")
        assert "*" in body["detail"] and "modifiée" not in body["detail"], body["detail"]
    # nothing was written: the ETag read first still works
    assert (await send(client, write, write.etag)).status_code == 200


@pytest.mark.parametrize("name", WRITES)
async def test_r_flow_3_missing_if_match_is_428(
    client: AsyncClient, writes: dict[str, Write], name: str
) -> None:
    for value in (None, "", "  "):
        problem(await send(client, writes[name], value), 428, "R-FLOW-3")


@pytest.mark.parametrize("value", ["v1", "abc", '"v1"x', '"1"', "'v1'", '"v1";"v2"', '"v-1"'])
@pytest.mark.parametrize("name", WRITES)
async def test_r_flow_3_a_malformed_if_match_is_400_naming_the_header_and_the_expected_tag(
    client: AsyncClient, writes: dict[str, Write], name: str, value: str
) -> None:
    # issue 12: not 412 (nothing says the version is stale) nor 422: the header is written wrong,
    # and the answer says what was expected.
    write = writes[name]
    body = problem(await send(client, write, value), 400, "R-FLOW-3")
    assert body["type"].endswith("/malformed-etag")
    assert body["detail"].startswith(f"ETag mal formé : attendu {write.etag}"), body["detail"]
    assert body["current_etag"] == write.etag
    assert [(e["in"], e["field"]) for e in body["errors"]] == [("header", "If-Match")]
    # nothing was written: the ETag read first still works
    assert (await send(client, write, write.etag)).status_code == 200


@pytest.mark.parametrize("name", WRITES)
async def test_r_flow_3_a_stale_or_weak_tag_is_412_and_a_list_with_the_current_one_is_200(
    client: AsyncClient, writes: dict[str, Write], name: str
) -> None:
    write = writes[name]
    for value in ('"v999"', f"W/{write.etag}", '"v998", "v999"'):
        body = problem(await send(client, write, value), 412, "R-FLOW-3")
        assert body["current_etag"] == write.etag
    response = await send(client, write, f'"v999" , W/"v3",{write.etag}')
    assert response.status_code == 200, response.text


# -- media type of JSON bodies ------------------------------------------------------------------


# Content-Type → expected status: JSON (with parameters, or a +json suffix) is read as JSON;
# anything else, or none at all, is 415.
MEDIA_TYPES: dict[str | None, int] = {
    "text/plain": 415,
    "text/plain; charset=utf-8": 415,
    "application/x-www-form-urlencoded": 415,
    "multipart/form-data; boundary=x": 415,
    "application/xml": 415,
    "application/jsonx": 415,
    None: 415,
    "application/json; charset=utf-8": 200,
    "application/merge-patch+json": 200,
}


@pytest.mark.parametrize("content_type", list(MEDIA_TYPES))
@pytest.mark.parametrize("name", WRITES)
async def test_a_json_body_under_another_media_type_is_415(
    client: AsyncClient, writes: dict[str, Write], name: str, content_type: str | None
) -> None:
    write = writes[name]
    response = await send(
        client,
        write,
        write.etag,
        content=json.dumps(write.body).encode(),
        headers={"Content-Type": content_type} if content_type else {},
    )
    assert response.request.headers.get("content-type") == content_type
    if MEDIA_TYPES[content_type] == 200:
        assert response.status_code == 200, response.text
        return
    body = problem(response, 415, "unsupported-media-type")
    assert [(e["in"], e["field"]) for e in body["errors"]] == [("header", "Content-Type")]


async def test_creations_refuse_text_plain_with_415(
    client: AsyncClient, session: AsyncSession, headers: Headers, actors: Actors
) -> None:
    await make_candidate(session, siren=MARSEILLE_SIREN)
    text = {"Content-Type": "text/plain"}
    for url, who, body in [
        ("/api/v1/projects", actors.cand_a, {"strand": "3c", "title": "Titre"}),
        ("/api/v1/candidates", actors.cand_a, {"siret": "21130055300016", "kind": "commune"}),
        ("/api/v1/envelopes/13/allocations", actors.dinum, {"kind": "allocation"}),
    ]:
        response = await client.post(
            url, content=json.dumps(body), headers={**headers(who), **text}
        )
        problem(response, 415, "unsupported-media-type")


async def test_a_malformed_json_body_is_still_422(
    client: AsyncClient, writes: dict[str, Write]
) -> None:
    write = writes["update_project"]
    response = await send(
        client,
        write,
        write.etag,
        content=b'{"title": ',
        headers={"Content-Type": "application/json"},
    )
    body = problem(response, 422, "validation-error")
    assert body["errors"][0]["code"] == "json_invalid" and body["errors"][0]["in"] == "body"
