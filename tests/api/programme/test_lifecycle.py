"""R-PROG-1 / R-PROG-2 through the API: DINUM drafts a programme, edits it (If-Match), previews a
sample dossier, publishes it, edits it by new versions, closes it; everyone else reads the
published ones only; every change is audited."""

from __future__ import annotations

import copy
import json
from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.programme.schemas import ProgrammeDocument
from app.programme.seed_nt2026 import NT2026
from tests.api.budgets.driver import Money, problem
from tests.conftest import MARSEILLE_SIREN, Actors
from tests.factories import make_candidate, make_project

API = "/api/v1"
CODE = "NT-ESSAI-2026"
URL = f"{API}/programmes/{CODE}"


def nt_document(code: str = CODE) -> dict[str, Any]:
    """A copy of the seeded second call's document under another code, as JSON."""
    values = {name: copy.deepcopy(NT2026[name]) for name in ProgrammeDocument.model_fields}
    values["code"] = code
    return json.loads(json.dumps(values, default=str))  # type: ignore[no-any-return]


async def draft(client: AsyncClient, headers: Any, actors: Actors) -> Response:
    response = await client.post(
        f"{API}/programmes", json=nt_document(), headers=headers(actors.dinum)
    )
    assert response.status_code == 201, response.text
    return response


async def act(
    client: AsyncClient, headers: Any, actors: Actors, action: str, url: str = URL
) -> Response:
    """POST {url}/{action} as DINUM with the current ETag."""
    etag = (await client.get(url, headers=headers(actors.dinum))).headers["ETag"]
    return await client.post(f"{url}/{action}", headers={**headers(actors.dinum), "If-Match": etag})


async def edit(
    client: AsyncClient, headers: Any, actors: Actors, changes: dict[str, Any], url: str = URL
) -> Response:
    etag = (await client.get(url, headers=headers(actors.dinum))).headers["ETag"]
    return await client.patch(
        url, json=changes, headers={**headers(actors.dinum), "If-Match": etag}
    )


def codes(response: Response) -> list[str]:
    return [p["code"] for p in response.json()["items"]]


SAMPLE = {
    "candidate": {"kind": "commune", "population": 3_000},
    "strand": "socle",
    "request_day": "2026-03-02",
    "start_on": "2026-04-01",
    "end_on": "2027-03-31",
    "expense_lines": [
        {"category": "development", "label": "Développement", "amount_cents": 1_000_000}
    ],
    "requested_cents": 500_000,
}


async def test_r_prog_1_dinum_drafts_edits_previews_and_publishes(
    client: AsyncClient, session: AsyncSession, headers: Any, actors: Actors
) -> None:
    created = await draft(client, headers, actors)
    body = created.json()
    assert created.headers["Location"] == f"{API}/programmes/{CODE}"
    assert created.headers["ETag"] == '"v1"'
    assert (body["status"], body["version"], body["grids"]) == ("draft", 1, [])
    assert [s["code"] for s in body["strands"]] == ["socle", "services"]

    # A draft is DINUM's: 404 for everyone else, absent from their list.
    assert (await client.get(URL, headers=headers(actors.dinum))).status_code == 200
    for who in (actors.cand_a, actors.pref13, actors.anct):
        problem(await client.get(URL, headers=headers(who)), 404, "R-PROG-2")
    problem(await client.get(URL), 404, "R-PROG-2")
    assert CODE not in codes(await client.get(f"{API}/programmes"))
    assert CODE not in codes(await client.get(f"{API}/programmes", headers=headers(actors.cand_a)))
    assert CODE in codes(await client.get(f"{API}/programmes", headers=headers(actors.dinum)))
    problem(
        await client.post(f"{URL}/preview", json=SAMPLE, headers=headers(actors.cand_a)),
        404,
        "R-PROG-2",
    )

    # R-FLOW-3: edits carry the ETag read.
    change = {"funding_cap_rate_bps": 6_000}
    problem(await client.patch(URL, json=change, headers=headers(actors.dinum)), 428, "R-FLOW-3")
    edited = await client.patch(
        URL, json=change, headers={**headers(actors.dinum), "If-Match": '"v1"'}
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["funding_cap_rate_bps"], edited.headers["ETag"]) == (6_000, '"v2"')
    stale = await client.patch(
        URL, json={"title": "Autre"}, headers={**headers(actors.dinum), "If-Match": '"v1"'}
    )
    problem(stale, 412, "R-FLOW-3")
    # A draft may change its strands (nothing names them yet).
    strands = edited.json()["strands"]
    only_socle = await edit(client, headers, actors, {"strands": strands[:1]})
    assert only_socle.status_code == 200, only_socle.text
    assert [s["code"] for s in only_socle.json()["strands"]] == ["socle"]
    assert (await edit(client, headers, actors, {"strands": strands})).status_code == 200

    # The preview judges a sample dossier against the draft as it stands, and writes nothing.
    before = await _rows(session)
    preview = await client.post(f"{URL}/preview", json=SAMPLE, headers=headers(actors.dinum))
    assert preview.status_code == 200, preview.text
    report = preview.json()
    assert (report["programme_status"], report["funding_cap_rate_bps"]) == ("draft", 6_000)
    assert report["eligible_cost_cents"] == 1_000_000
    assert report["funding_cap_cents"] == 600_000  # the draft's 60 %, not the seed's 80 %
    assert report["failures"] == [] and report["eligible"] is True
    assert "security_audit" in report["submission_documents"]  # asked of `socle` dossiers
    assert await _rows(session) == before
    # A kind this programme does not admit, a strand it does not have: both listed.
    odd = {**SAMPLE, "candidate": {"kind": "region"}, "strand": "autre"}
    refused = (await client.post(f"{URL}/preview", json=odd, headers=headers(actors.dinum))).json()
    assert [(f["code"], f["field"]) for f in refused["failures"]][:2] == [
        ("R-ELIG-1", "/candidate/kind"),
        ("R-PROG-1", "/strand"),
    ]

    # Publication: If-Match, grids created, the first version kept; only once.
    problem(await client.post(f"{URL}/publish", headers=headers(actors.dinum)), 428, "R-FLOW-3")
    published = await act(client, headers, actors, "publish")
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    assert [(g["strand"], g["version"]) for g in published.json()["grids"]] == [
        ("services", 1),
        ("socle", 1),
    ]
    version = published.json()["version"]
    problem(await act(client, headers, actors, "publish"), 409, "R-PROG-1")
    assert CODE in codes(await client.get(f"{API}/programmes"))  # public now
    versions = await client.get(f"{URL}/versions")
    assert versions.status_code == 200, versions.text
    [first] = versions.json()["items"]
    assert first["version"] == version
    assert first["document"]["funding_cap_rate_bps"] == 6_000

    # R-PROG-2: a published programme changes by a new version, keeping its strands.
    problem(await edit(client, headers, actors, {"strands": strands[:1]}), 422, "R-PROG-1")
    renamed = await edit(client, headers, actors, {"title": "Numérique des territoires, v2"})
    assert renamed.status_code == 200, renamed.text
    items = (await client.get(f"{URL}/versions")).json()["items"]
    assert [i["version"] for i in items] == [version, version + 1]
    assert [i["document"]["title"] for i in items] == [
        NT2026["title"],
        "Numérique des territoires, v2",
    ]


async def _rows(session: AsyncSession) -> tuple[int, ...]:
    counts = []
    for table in ("project", "candidate", "programme_version", "expense_line"):
        result = await session.execute(text(f"SELECT COUNT(*) FROM {table}"))  # noqa: S608
        counts.append(int(result.scalar_one()))
    return tuple(counts)


async def test_r_prog_1_an_inconsistent_document_is_refused_with_every_problem(
    client: AsyncClient, headers: Any, actors: Actors
) -> None:
    document = nt_document()
    document["window_closes_on"] = "2026-01-15"  # before its opening (R-ELIG-7)
    document["extra_eu_licence_share_cap_bps"] = 10_000  # not marginal (R-EXCL-2)
    document["forfaits"] = [  # a kind it does not admit, and no strand applies them (R-CAP-3)
        {"label": "Départements", "kinds": ["departement"], "amount_cents": 1_000_000}
    ]
    document["required_documents"][0]["strands"] = ["socle", "inconnu"]  # (R-DOC-1)
    document["strands"][1]["criteria"][0]["code"] = "sobriete"  # a general code (R-EVAL-1)
    response = await client.post(f"{API}/programmes", json=document, headers=headers(actors.dinum))
    body = problem(response, 422, "R-PROG-1")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("/window_closes_on", "R-ELIG-7"),
        ("/extra_eu_licence_share_cap_bps", "R-EXCL-2"),
        ("/strands/1/criteria/0/code", "R-EVAL-1"),
        ("/forfaits/0/kinds", "R-CAP-3"),
        ("/forfaits", "R-CAP-3"),
        ("/required_documents/0/strands", "R-DOC-1"),
    ]
    assert (await client.get(URL, headers=headers(actors.dinum))).status_code == 404
    # A draft edited into inconsistency is refused the same way, and stays as it was.
    await draft(client, headers, actors)
    refused = await edit(client, headers, actors, {"results_deadline": "2025-01-01"})
    assert [(e["field"], e["code"]) for e in problem(refused, 422, "R-PROG-1")["errors"]] == [
        ("/results_deadline", "R-ELIG-5")
    ]
    assert (await client.get(URL, headers=headers(actors.dinum))).headers["ETag"] == '"v1"'


async def test_r_prog_1_a_code_is_taken_once(
    client: AsyncClient, headers: Any, actors: Actors
) -> None:
    await draft(client, headers, actors)
    again = await client.post(
        f"{API}/programmes", json=nt_document(), headers=headers(actors.dinum)
    )
    problem(again, 409, "programme-exists")
    seeded = nt_document("FITN7-AXE3")
    problem(
        await client.post(f"{API}/programmes", json=seeded, headers=headers(actors.dinum)),
        409,
        "programme-exists",
    )


async def test_r_prog_1_writes_are_dinums(
    client: AsyncClient, headers: Any, actors: Actors
) -> None:
    await draft(client, headers, actors)
    writes = [
        ("POST", f"{API}/programmes", nt_document("AUTRE-2026")),
        ("PATCH", URL, {"title": "Autre"}),
        ("POST", f"{URL}/publish", None),
        ("POST", f"{URL}/close", None),
    ]
    for method, url, body in writes:
        for who in (actors.cand_a, actors.pref13, actors.anct):
            response = await client.request(
                method, url, json=body, headers={**headers(who), "If-Match": '"v1"'}
            )
            problem(response, 403, "forbidden-role")
        anonymous = await client.request(method, url, json=body, headers={"If-Match": '"v1"'})
        assert anonymous.status_code == 401, (method, url)
    assert (await client.post(f"{URL}/preview", json=SAMPLE)).status_code == 401
    current = await client.get(URL, headers=headers(actors.dinum))
    assert (current.headers["ETag"], current.json()["status"]) == ('"v1"', "draft")


async def test_r_prog_1_a_closed_programme_takes_no_dossier_and_stays_readable(
    client: AsyncClient, session: AsyncSession, headers: Any, actors: Actors
) -> None:
    """The default programme closed: a draft filed before cannot be submitted, no new dossier
    is filed (R-PROG-1), the programme is still read and no more edited."""
    default = f"{API}/programmes/FITN7-AXE3"
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    project = await make_project(session, candidate=marseille)
    closed = await act(client, headers, actors, "close", default)
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    problem(await act(client, headers, actors, "close", default), 409, "R-PROG-1")
    problem(await edit(client, headers, actors, {"title": "Autre"}, default), 409, "R-PROG-1")
    assert (await client.get(default)).json()["status"] == "closed"
    assert (await client.get(f"{API}/programme")).json()["status"] == "closed"

    etag = (
        await client.get(f"{API}/projects/{project.id}", headers=headers(actors.cand_a))
    ).headers["ETag"]
    submitted = await client.post(
        f"{API}/projects/{project.id}/submit",
        headers={**headers(actors.cand_a), "If-Match": etag},
    )
    assert submitted.status_code == 422, submitted.text
    assert "R-PROG-1" in [e["code"] for e in submitted.json()["errors"]]
    new = await client.post(
        f"{API}/projects",
        json={"strand": "3c", "title": "Un autre", "description": "Un autre dossier."},
        headers=headers(actors.cand_a),
    )
    problem(new, 422, "R-PROG-1")


async def test_r_pay_4_a_grant_keeps_its_terms_after_a_new_version(
    client: AsyncClient, session: AsyncSession, headers: Any, actors: Actors
) -> None:
    money = Money(client, session, headers, actors)
    assert (await money.allocate("13", 10_000_000)).status_code == 201
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    project = await make_project(session, candidate=marseille, status="in_review")
    await money.commit(project.id, 1_000_000)
    grant = await money.grant(project.id)
    assert grant.status_code == 200, grant.text
    terms = grant.json()["terms"]
    default = f"{API}/programmes/FITN7-AXE3"
    before = [v["version"] for v in (await client.get(f"{default}/versions")).json()["items"]]
    assert before and before[-1] == terms["programme_version"]

    changed = await edit(
        client,
        headers,
        actors,
        {"funding_cap_rate_bps": 5_000, "advance_cap_bps": 0, "pre_final_payment_cap_bps": 1_000},
        default,
    )
    assert changed.status_code == 200, changed.text
    after = (await client.get(f"{default}/versions")).json()["items"]
    assert [v["version"] for v in after] == [*before, changed.json()["version"]]
    assert after[-1]["document"]["funding_cap_rate_bps"] == 5_000
    assert (await money.grant(project.id)).json()["terms"] == terms


async def test_r_prog_1_every_change_is_audited(
    client: AsyncClient, headers: Any, actors: Actors
) -> None:
    created = await draft(client, headers, actors)
    programme_id = created.json()["id"]
    assert (await edit(client, headers, actors, {"title": "Essai"})).status_code == 200
    assert (await act(client, headers, actors, "publish")).status_code == 200
    assert (await act(client, headers, actors, "close")).status_code == 200
    events = await client.get(
        f"{API}/audit-events",
        params={"object_type": "programme", "object_id": programme_id},
        headers=headers(actors.dinum),
    )
    assert events.status_code == 200, events.text
    items = events.json()["items"]
    assert [e["action"] for e in items] == [
        "created",
        "updated",
        "status_changed",
        "status_changed",
    ]
    assert [e["after"].get("status") for e in items[2:]] == ["published", "closed"]
    assert {e["object"]["departement"] for e in items} == {None}
    assert {e["actor"]["subject"] for e in items} == {actors.dinum.subject}
