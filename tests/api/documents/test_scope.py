"""R-DOC-3: documents follow their dossier's scope (R-ACL-1). Every document route, every
role: out of scope, nothing is readable (404, or 401 anonymously), nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.documents.models import Document
from app.documents.storage import DocumentStorage
from tests.api.documents.test_documents import API, PDF, stored_keys, upload
from tests.conftest import AIX_SIREN, MARSEILLE_SIREN, PARIS_SIREN, Actors
from tests.factories import make_candidate, make_project


@pytest.fixture
async def filed(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    session: AsyncSession,
    storage: DocumentStorage,
) -> dict[str, str]:
    """Marseille's (13) dossier with its délibération, and Marseille's attestation."""
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    await make_candidate(session, siren=AIX_SIREN)
    await make_candidate(session, siren=PARIS_SIREN)
    project = await make_project(session, candidate=marseille)
    mine = headers(actors.cand_a)
    deliberation = await upload(
        client, mine, f"/projects/{project.id}/documents", kind="deliberation"
    )
    attestation = await upload(
        client, mine, f"/candidates/{marseille.id}/documents", kind="attestation"
    )
    assert deliberation.status_code == attestation.status_code == 201
    return {
        "project": str(project.id),
        "candidate": str(marseille.id),
        "deliberation": deliberation.json()["id"],
        "attestation": attestation.json()["id"],
    }


def routes(ids: dict[str, str]) -> list[tuple[str, str, str | None]]:
    """(method, path, kind to upload) of every document route."""
    return [
        ("GET", f"/projects/{ids['project']}/documents", None),
        ("GET", f"/candidates/{ids['candidate']}/documents", None),
        ("GET", f"/documents/{ids['deliberation']}", None),
        ("GET", f"/documents/{ids['attestation']}", None),
        ("GET", f"/documents/{ids['deliberation']}/content", None),
        ("GET", f"/documents/{ids['attestation']}/content", None),
        ("POST", f"/projects/{ids['project']}/documents", "deliberation"),
        ("POST", f"/candidates/{ids['candidate']}/documents", "attestation"),
    ]


async def call(
    client: AsyncClient, headers: dict[str, str], method: str, path: str, kind: str | None
) -> Any:
    if method == "POST":
        assert kind is not None
        return await upload(client, headers, path, kind=kind, content=PDF + b"other")
    return await client.get(f"{API}{path}", headers=headers)


async def test_no_document_readable_out_of_scope_r_doc_3(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    filed: dict[str, str],
    session: AsyncSession,
    storage: DocumentStorage,
) -> None:
    outsiders: dict[str, dict[str, str]] = {
        "candidate of another SIREN (same département)": headers(actors.cand_b),
        "candidate of another département": headers(actors.cand_paris),
        "prefect of another département": headers(actors.pref75),
        "anonymous": {},
    }
    keys_before = sorted(await stored_keys(storage))
    readable: list[str] = []
    for who, auth in outsiders.items():
        for method, path, kind in routes(filed):
            answer = await call(client, auth, method, path, kind)
            expected = {401} if who == "anonymous" else {403, 404}
            if answer.status_code not in expected:
                readable.append(f"{who}: {method} {path} → {answer.status_code}")
            if answer.status_code < 400:
                readable.append(f"{who}: {method} {path} answered {answer.text[:80]}")
    assert readable == []
    assert sorted(await stored_keys(storage)) == keys_before
    count = (await session.execute(select(func.count()).select_from(Document))).scalar_one()
    assert count == 2


async def test_national_readers_read_everything_and_file_nothing_r_doc_3(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    filed: dict[str, str],
    storage: DocumentStorage,
) -> None:
    for reader in (actors.dinum, actors.anct, actors.pref13, actors.cand_a):
        for method, path, kind in routes(filed):
            if method == "GET":
                answer = await call(client, headers(reader), method, path, kind)
                assert answer.status_code == 200, (reader.role, path, answer.text)
    for reader in (actors.dinum, actors.anct):
        for method, path, kind in routes(filed):
            if method == "POST":
                answer = await call(client, headers(reader), method, path, kind)
                assert answer.status_code == 403, (reader.role, path)
    listed = await client.get(
        f"{API}/projects/{filed['project']}/documents", headers=headers(actors.anct)
    )
    assert [d["id"] for d in listed.json()["items"]] == [filed["deliberation"]]
