"""Documents through the API on both storage backends (issue 24): upload streamed, typed from
its bytes (R-DOC-2), size refused while reading, superseded not overwritten, downloads scoped
like the dossier (R-DOC-3, R-ACL-1), served as attachments, ranges, audited."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import obstore
import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.documents.models import Document
from app.documents.storage import DocumentStorage
from tests.conftest import AIX_SIREN, MARSEILLE_SIREN, PARIS_SIREN, Actors
from tests.factories import make_candidate, make_project

API = "/api/v1"
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


async def upload(
    client: AsyncClient,
    headers: dict[str, str],
    path: str,
    *,
    kind: str,
    content: bytes = PDF,
    name: str = "délibération n°12.pdf",
    declared: str = "application/pdf",
    line: str | None = None,
) -> Any:
    data = {"kind": kind}
    if line is not None:
        data["expense_line_id"] = line
    return await client.post(
        f"{API}{path}", data=data, files={"file": (name, content, declared)}, headers=headers
    )


async def stored_keys(storage: DocumentStorage) -> list[str]:
    keys: list[str] = []
    async for batch in obstore.list(storage.store):
        keys.extend(meta["path"] for meta in batch)
    return keys


@pytest.fixture
async def dossier(session: AsyncSession) -> Any:
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    await make_candidate(session, siren=AIX_SIREN)
    await make_candidate(session, siren=PARIS_SIREN)
    project = await make_project(session, candidate=marseille)
    return project, marseille


async def test_upload_streams_hashes_types_and_locates(
    client: AsyncClient, headers: Any, actors: Actors, dossier: Any, storage: DocumentStorage
) -> None:
    project, _ = dossier
    answer = await upload(
        client, headers(actors.cand_a), f"/projects/{project.id}/documents", kind="deliberation"
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert answer.headers["location"] == f"{API}/documents/{body['id']}"
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert body["size_bytes"] == len(PDF)
    assert body["content_type"] == "application/pdf"
    assert body["filename"] == "délibération n°12.pdf"
    assert body["scan_status"] == "unscanned"  # no scanner configured (test environment)
    assert body["uploaded_by"] == actors.cand_a.subject
    # The key is the owner and the hash, never the user's name; nothing left in staging.
    assert await stored_keys(storage) == [f"projects/{project.id.hex}/{body['sha256']}"]


async def test_executable_named_pdf_refused_by_its_bytes_r_doc_2(
    client: AsyncClient, headers: Any, actors: Actors, dossier: Any, storage: DocumentStorage
) -> None:
    project, _ = dossier
    answer = await upload(
        client,
        headers(actors.cand_a),
        f"/projects/{project.id}/documents",
        kind="deliberation",
        content=EXE,
        name="deliberation.pdf",
    )
    assert answer.status_code == 415
    problem = answer.json()
    assert problem["code"] == "R-DOC-2"
    assert problem["detected_type"] == "application/x-dosexec"
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert await stored_keys(storage) == []


async def test_upload_past_the_limit_is_413_while_reading_nothing_kept_memory_flat(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    dossier: Any,
    storage: DocumentStorage,
    session: AsyncSession,
) -> None:
    """R-DOC-2: 25 MB against the 20 MB limit: refused once the limit is passed (the rest of
    the body is never read), nothing stored, and Python's memory stays far below the file."""
    project, _ = dossier
    boundary = "guichetboundary"
    sent = 0
    chunk = PDF + b"\x00" * (64 * 1024 - len(PDF))
    total = 25 * 1024 * 1024

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\n'
            f"deliberation\r\n--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="gros.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        yield head
        while sent < total:
            sent += len(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    tracing = storage.backend == "filesystem"  # moto's server holds S3 parts in this process
    if tracing:
        tracemalloc.start()
    try:
        answer = await client.post(
            f"{API}/projects/{project.id}/documents",
            content=body(),
            headers={
                **headers(actors.cand_a),
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
        )
        if tracing:
            _, peak = tracemalloc.get_traced_memory()
            assert peak < 8 * 1024 * 1024, peak
    finally:
        if tracing:
            tracemalloc.stop()
    assert answer.status_code == 413, answer.text
    assert answer.json()["code"] == "R-DOC-2"
    assert sent < total  # stopped reading at the limit
    assert sent <= 20 * 1024 * 1024 + 2 * len(chunk)
    assert await stored_keys(storage) == []
    assert (await session.execute(select(Document))).first() is None


async def test_new_upload_supersedes_keeps_the_old_one_listed(
    client: AsyncClient, headers: Any, actors: Actors, dossier: Any, storage: DocumentStorage
) -> None:
    project, _ = dossier
    path = f"/projects/{project.id}/documents"
    first = (await upload(client, headers(actors.cand_a), path, kind="deliberation")).json()
    second = (
        await upload(client, headers(actors.cand_a), path, kind="deliberation", content=PDF + b"%")
    ).json()
    listed = await client.get(f"{API}{path}", headers=headers(actors.pref13))
    assert listed.status_code == 200
    items = {item["id"]: item for item in listed.json()["items"]}
    assert set(items) == {first["id"], second["id"]}
    assert items[first["id"]]["superseded_by"] == second["id"]
    assert items[first["id"]]["superseded_at"] is not None
    assert items[second["id"]]["superseded_at"] is None
    # Both versions' bytes are kept and still served.
    old = await client.get(f"{API}/documents/{first['id']}/content", headers=headers(actors.dinum))
    assert old.status_code == 200 and old.content == PDF
    assert len(await stored_keys(storage)) == 2


async def test_list_pages_with_a_cursor_and_updated_since(
    client: AsyncClient, headers: Any, actors: Actors, dossier: Any, storage: DocumentStorage
) -> None:
    project, _ = dossier
    path = f"/projects/{project.id}/documents"
    line = str(project.expense_lines[0].id)
    await upload(client, headers(actors.cand_a), path, kind="deliberation")
    quote = await upload(client, headers(actors.cand_a), path, kind="quote", line=line)
    assert quote.status_code == 201 and quote.json()["expense_line_id"] == line
    page1 = (await client.get(f"{API}{path}?limit=1", headers=headers(actors.cand_a))).json()
    assert len(page1["items"]) == 1 and page1["next_cursor"]
    page2 = await client.get(
        f"{API}{path}",
        params={"limit": 1, "cursor": page1["next_cursor"]},
        headers=headers(actors.cand_a),
    )
    assert [i["kind"] for i in page1["items"] + page2.json()["items"]] == ["deliberation", "quote"]
    later = await client.get(
        f"{API}{path}",
        params={"updated_since": "2030-01-01T00:00:00Z"},
        headers=headers(actors.cand_a),
    )
    assert later.json()["items"] == []


async def test_quote_needs_a_line_of_this_dossier(
    client: AsyncClient, headers: Any, actors: Actors, dossier: Any, storage: DocumentStorage
) -> None:
    project, _ = dossier
    path = f"/projects/{project.id}/documents"
    missing = await upload(client, headers(actors.cand_a), path, kind="quote")
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "/expense_line_id"
    foreign = await upload(
        client,
        headers(actors.cand_a),
        path,
        kind="quote",
        line="00000000-0000-0000-0000-000000000001",
    )
    assert foreign.status_code == 422
    assert await stored_keys(storage) == []


async def test_candidate_files_only_while_draft_prefect_files_convention_r_doc_2(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    dossier: Any,
    storage: DocumentStorage,
    session: AsyncSession,
) -> None:
    project, _ = dossier
    path = f"/projects/{project.id}/documents"
    early = await upload(client, headers(actors.pref13), path, kind="signed_convention")
    assert early.status_code == 409 and early.json()["code"] == "R-DOC-2"
    project.status = "submitted"
    session.add(project)
    await session.flush()
    late = await upload(client, headers(actors.cand_a), path, kind="deliberation")
    assert late.status_code == 409 and late.json()["code"] == "R-DOC-2"
    project.status = "accepted"
    session.add(project)
    await session.flush()
    signed = await upload(client, headers(actors.pref13), path, kind="signed_convention")
    assert signed.status_code == 201, signed.text
    assert await stored_keys(storage) == [f"projects/{project.id.hex}/{signed.json()['sha256']}"]


async def test_download_attachment_headers_range_and_audit_r_doc_3(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    dossier: Any,
    storage: DocumentStorage,
    session: AsyncSession,
) -> None:
    project, _ = dossier
    created = (
        await upload(
            client,
            headers(actors.cand_a),
            f"/projects/{project.id}/documents",
            kind="deliberation",
            name="../../etc/Délibération: finale*.pdf",
        )
    ).json()
    assert created["filename"] == "Délibération_ finale_.pdf"
    url = f"{API}/documents/{created['id']}/content"
    whole = await client.get(url, headers=headers(actors.pref13))
    assert whole.status_code == 200
    assert whole.content == PDF
    assert whole.headers["content-type"] == "application/pdf"
    assert whole.headers["x-content-type-options"] == "nosniff"
    assert whole.headers["etag"] == f'"{created["sha256"]}"'
    assert whole.headers["x-document-scan"] == "unscanned"
    disposition = whole.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="Deliberation_ finale_.pdf"')
    assert "filename*=UTF-8''D%C3%A9lib%C3%A9ration_%20finale_.pdf" in disposition
    part = await client.get(url, headers={**headers(actors.pref13), "Range": "bytes=5-12"})
    assert part.status_code == 206
    assert part.content == PDF[5:13]
    assert part.headers["content-range"] == f"bytes 5-12/{len(PDF)}"
    tail = await client.get(url, headers={**headers(actors.dinum), "Range": "bytes=-6"})
    assert tail.status_code == 206 and tail.content == PDF[-6:]
    beyond = await client.get(url, headers={**headers(actors.pref13), "Range": "bytes=9999-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(PDF)}"
    reads = (
        (
            await session.execute(
                select(AuditEvent).where(
                    AuditEvent.object_id == created["id"], AuditEvent.action == "downloaded"
                )
            )
        )
        .scalars()
        .all()
    )
    assert sorted(e.actor_subject for e in reads) == sorted(
        [actors.pref13.subject, actors.pref13.subject, actors.dinum.subject]
    )
    # The trail reads through the API too: the prefecture sees who read its documents.
    trail = await client.get(
        f"{API}/audit-events",
        params={"object_type": "document", "object_id": created["id"], "action": "downloaded"},
        headers=headers(actors.pref13),
    )
    assert trail.status_code == 200, trail.text
    assert len(trail.json()["items"]) == 3


async def test_pending_or_infected_never_served_r_doc_2(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    dossier: Any,
    storage: DocumentStorage,
    session: AsyncSession,
    app: FastAPI,
) -> None:
    project, _ = dossier
    created = (
        await upload(
            client,
            headers(actors.cand_a),
            f"/projects/{project.id}/documents",
            kind="deliberation",
        )
    ).json()
    document = await session.get(Document, __import__("uuid").UUID(created["id"]))
    assert document is not None
    for status in ("pending", "infected"):
        document.scan_status = status
        session.add(document)
        await session.flush()
        answer = await client.get(
            f"{API}/documents/{created['id']}/content", headers=headers(actors.dinum)
        )
        assert answer.status_code == 409
        assert answer.json()["code"] == "R-DOC-2"
        assert answer.json()["scan_status"] == status
    document.scan_status = "unscanned"
    session.add(document)
    await session.flush()
    production = app.state.settings
    app.state.settings = production.model_copy(update={"environment": "production"})
    try:
        answer = await client.get(
            f"{API}/documents/{created['id']}/content", headers=headers(actors.dinum)
        )
    finally:
        app.state.settings = production
    assert answer.status_code == 409  # unscanned: never served in production


async def test_candidate_attestation_filed_by_the_candidate_only(
    client: AsyncClient, headers: Any, actors: Actors, dossier: Any, storage: DocumentStorage
) -> None:
    _, marseille = dossier
    path = f"/candidates/{marseille.id}/documents"
    filed = await upload(client, headers(actors.cand_a), path, kind="attestation")
    assert filed.status_code == 201, filed.text
    assert filed.json()["candidate_id"] == str(marseille.id)
    wrong_kind = await upload(client, headers(actors.cand_a), path, kind="deliberation")
    assert wrong_kind.status_code == 422
    assert (
        await upload(client, headers(actors.pref13), path, kind="attestation")
    ).status_code == 403
    listed = await client.get(f"{API}{path}", headers=headers(actors.pref13))
    assert [d["id"] for d in listed.json()["items"]] == [filed.json()["id"]]


async def test_not_multipart_is_415(
    client: AsyncClient, headers: Any, actors: Actors, dossier: Any, storage: DocumentStorage
) -> None:
    project, _ = dossier
    answer = await client.post(
        f"{API}/projects/{project.id}/documents",
        json={"kind": "deliberation"},
        headers=headers(actors.cand_a),
    )
    assert answer.status_code == 415
    missing_file = await client.post(
        f"{API}/projects/{project.id}/documents",
        data={"kind": "deliberation"},
        files={"other": ("x.txt", b"x", "text/plain")},
        headers=headers(actors.cand_a),
    )
    assert missing_file.status_code == 422


async def test_a_body_arriving_in_tiny_pieces_is_read_whole(
    client: AsyncClient, headers: Any, actors: Actors, dossier: Any, storage: DocumentStorage
) -> None:
    """The streaming parser sees the body as the network delivers it: boundaries, headers and
    the file cut anywhere still give the same fields, bytes and hash."""
    project, _ = dossier
    boundary = "b0undary"
    content = PDF + bytes(range(256)) * 40  # every byte value, CR/LF and dashes included
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="pièce.pdf"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        + content
        + (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\n'
            f"deliberation\r\n--{boundary}--\r\n"
        ).encode()
    )

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 7):
            yield body[start : start + 7]

    answer = await client.post(
        f"{API}/projects/{project.id}/documents",
        content=pieces(),
        headers={
            **headers(actors.cand_a),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["sha256"] == hashlib.sha256(content).hexdigest()
    assert answer.json()["size_bytes"] == len(content)
    assert answer.json()["filename"] == "pièce.pdf"
    served = await client.get(
        f"{API}/documents/{answer.json()['id']}/content", headers=headers(actors.cand_a)
    )
    assert served.content == content
