"""R-DOC-2 malware scan against a real clamd: EICAR caught and quarantined (never served,
audited), a clean PDF passes; clamd down leaves documents pending, retried, and /readyz and
/metrics say so."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.models import AuditEvent
from app.core.types import utcnow
from app.documents import scanner, worker
from app.documents.models import Document
from app.documents.storage import DocumentStorage
from tests.api.documents.conftest import EICAR, EICAR_PDF, EICAR_SIGNATURE
from tests.api.documents.test_documents import API, PDF, stored_keys, upload
from tests.conftest import MARSEILLE_SIREN, Actors
from tests.factories import make_candidate, make_project


def worker_sessions(session: AsyncSession) -> async_sessionmaker[AsyncSession]:
    """The worker's sessions, on the test's connection (its transaction is rolled back)."""
    return async_sessionmaker(
        bind=session.bind, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
def scanning(app: FastAPI, clamd_url: str) -> Iterator[str]:
    """The app's settings with the suite's clamd as its scanner."""
    before = app.state.settings
    app.state.settings = before.model_copy(update={"documents_scanner_url": clamd_url})
    yield clamd_url
    app.state.settings = before


async def _file(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    session: AsyncSession,
    content: bytes,
    name: str,
) -> dict[str, Any]:
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    project = await make_project(session, candidate=marseille)
    answer = await upload(
        client,
        headers(actors.cand_a),
        f"/projects/{project.id}/documents",
        kind="deliberation",
        content=content,
        name=name,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_scanner_client_speaks_instream(clamd_url: str) -> None:
    async def one(data: bytes) -> Any:
        yield data

    assert await scanner.ping(clamd_url)
    assert await scanner.scan(clamd_url, one(PDF)) == scanner.Verdict(infected=False)
    found = await scanner.scan(clamd_url, one(EICAR))
    assert found.infected and found.signature == f"{EICAR_SIGNATURE}.UNOFFICIAL"


async def test_eicar_is_caught_quarantined_never_served_and_audited_r_doc_2(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    session: AsyncSession,
    app: FastAPI,
    storage: DocumentStorage,
    scanning: str,
) -> None:
    filed = await _file(client, headers, actors, session, EICAR_PDF, "notes.pdf")
    assert filed["scan_status"] == "pending"  # a scanner is configured: nothing served yet
    content = f"{API}/documents/{filed['id']}/content"
    assert (await client.get(content, headers=headers(actors.dinum))).status_code == 409
    claimed = await worker.scan_once(worker_sessions(session), app.state.settings, storage)
    assert claimed == 1
    read = await client.get(f"{API}/documents/{filed['id']}", headers=headers(actors.cand_a))
    assert read.json()["scan_status"] == "infected"
    refused = await client.get(content, headers=headers(actors.dinum))
    assert refused.status_code == 409
    assert refused.json()["code"] == "R-DOC-2" and refused.json()["scan_status"] == "infected"
    events = (
        (await session.execute(select(AuditEvent).where(AuditEvent.object_id == filed["id"])))
        .scalars()
        .all()
    )
    quarantined = [e for e in events if e.action == "quarantined"]
    assert len(quarantined) == 1 and quarantined[0].actor_role == "scanner"
    assert quarantined[0].after is not None
    assert EICAR_SIGNATURE in quarantined[0].after["signature"]
    assert not [e for e in events if e.action == "downloaded"]  # never served


async def test_clean_pdf_passes_and_is_served_r_doc_2(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    session: AsyncSession,
    app: FastAPI,
    storage: DocumentStorage,
    scanning: str,
) -> None:
    filed = await _file(client, headers, actors, session, PDF, "deliberation.pdf")
    assert await worker.scan_once(worker_sessions(session), app.state.settings, storage) == 1
    served = await client.get(
        f"{API}/documents/{filed['id']}/content", headers=headers(actors.pref13)
    )
    assert served.status_code == 200 and served.content == PDF
    assert "x-document-scan" not in served.headers
    # Nothing left to claim.
    assert await worker.scan_once(worker_sessions(session), app.state.settings, storage) == 0


async def test_clamd_down_leaves_pending_retried_and_reported(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    session: AsyncSession,
    app: FastAPI,
    storage: DocumentStorage,
    scanning: str,
    tmp_path: Any,
) -> None:
    filed = await _file(client, headers, actors, session, PDF, "deliberation.pdf")
    down = app.state.settings.model_copy(
        update={"documents_scanner_url": f"unix://{tmp_path}/absent.sock"}
    )
    sessions = worker_sessions(session)
    now = utcnow()
    assert await worker.scan_once(sessions, down, storage, now=now) == 1
    document = await session.get(Document, uuid.UUID(filed["id"]), populate_existing=True)
    assert document is not None
    assert document.scan_status == "pending" and document.scan_attempts == 1
    assert document.scan_next_at is not None and document.scan_next_at > now
    assert document.scan_lease_token is None
    # Not due again before its backoff; due after it, and scanned once clamd is back.
    assert await worker.scan_once(sessions, down, storage, now=now) == 0
    app.state.settings = down
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["scanner"] == "down"
    metrics = (await client.get("/metrics")).text
    assert "guichet_documents_scan_pending 1.0" in metrics
    assert "guichet_documents_scanner_up 0.0" in metrics
    app.state.settings = down.model_copy(update={"documents_scanner_url": scanning})
    assert (await client.get("/readyz")).json()["scanner"] == "ok"
    later = now + timedelta(minutes=1)
    assert await worker.scan_once(sessions, app.state.settings, storage, now=later) == 1
    document = await session.get(Document, uuid.UUID(filed["id"]), populate_existing=True)
    assert document is not None and document.scan_status == "clean"
    assert "guichet_documents_scanner_up 1.0" in (await client.get("/metrics")).text


async def test_staging_left_by_an_interrupted_upload_is_swept(
    storage: DocumentStorage,
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    session: AsyncSession,
) -> None:
    """An upload cut by a crash leaves its staging object: the worker's sweep deletes those
    older than an hour, never a stored document."""
    filed = await _file(client, headers, actors, session, PDF, "deliberation.pdf")
    writer = storage.open_writer(storage.staging_key())
    await writer.write(b"half an upload")
    await writer.close()
    assert len(await stored_keys(storage)) == 2
    worker.STATE.swept_at = None
    assert await worker.sweep(storage) == 0  # too recent: it may be an upload in progress
    worker.STATE.swept_at = None
    later = datetime.now(UTC) + timedelta(hours=2)
    assert await worker.sweep(storage, now=later) == 1
    assert await worker.sweep(storage, now=later) == 0  # not again before SWEEP_EVERY
    assert await stored_keys(storage) == [
        f"projects/{filed['project_id'].replace('-', '')}/{filed['sha256']}"
    ]
