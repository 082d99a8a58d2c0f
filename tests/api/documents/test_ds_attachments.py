"""Issue 24: the démarches-simplifiées sync imports each dossier's attachments (the files of
the `PieceJustificativeChamp`s its démarche's mapping names), fetched from a local file host
(the fake DS on 127.0.0.1), stored and scanned like an upload (R-DOC-2), not twice across
re-syncs; a failure is reported without losing the dossier; the URLs pass R-HOOK-1's guard.
On both storage backends (this directory's `storage` fixture) and both databases."""

from __future__ import annotations

import base64
import copy
import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import ANY

import pytest
import pytest_asyncio
from fastapi import FastAPI

from app.auth.principal import Principal
from app.documents.storage import DocumentStorage
from tests.api.documents.test_documents import EXE, PDF, stored_keys
from tests.api.ds import test_ds_sync
from tests.api.ds.fake_ds import DEMARCHE, FakeDS
from tests.api.ds.test_ds_sync import (
    DS,
    MAPPING,
    PREF33,
    PREF47,
    PROJECTS,
    VILLENEUVE,
    Ds,
    by_number,
)

# The DS suite's fixtures: its fake DS (the app's settings pointing at it) and its driver.
fake = test_ds_sync.fake
ds = test_ds_sync.ds

CHAMP = "Délibération du conseil municipal"
MAPPING_WITH_DOCUMENTS = {**MAPPING, "documents": [{"champ": CHAMP, "kind": "deliberation"}]}


def md5_checksum(content: bytes) -> str:
    return base64.b64encode(hashlib.md5(content).digest()).decode()


def attach(fake: FakeDS, *files: dict[str, Any], number: int = VILLENEUVE) -> None:
    """Give a sample dossier the mapped attachment champ, with these files."""
    node = fake.node(number)
    node["champs"] = [c for c in node["champs"] if c.get("label") != CHAMP]
    node["champs"].append(
        {
            "__typename": "PieceJustificativeChamp",
            "id": "Q2hhbXAtOTAwMQ==",
            "label": CHAMP,
            "stringValue": ", ".join(f["filename"] for f in files),
            "files": list(files),
        }
    )


def served(
    fake: FakeDS, path: str, content: bytes, *, filename: str = "délibération.pdf", **over: Any
) -> dict[str, Any]:
    """Serve `content` at `path` on the fake DS's host; its `File` as DS describes it."""
    fake.files[path] = (200, {"content-type": "application/octet-stream"}, content)
    return {
        "url": fake.file_url(path) + "?expires=1",
        "filename": filename,
        "checksum": md5_checksum(content),
        "byteSize": str(len(content)),  # BigInt: a string
        "contentType": "application/pdf",
        **over,
    }


@pytest_asyncio.fixture
async def host(app: FastAPI, fake: FakeDS, storage: DocumentStorage) -> AsyncIterator[FakeDS]:
    """The fake DS also serves files; the guard lets the test reach it on 127.0.0.1 (as
    development does with GUICHET_WEBHOOK_ALLOW_LOOPBACK) and on its port."""
    port = int(fake.url.split(":")[2].split("/")[0])
    saved = app.state.settings
    app.state.settings = saved.model_copy(
        update={"webhook_allow_loopback": True, "webhook_allowed_ports": [port]}
    )
    try:
        yield fake
    finally:
        app.state.settings = saved


async def documents_of(
    ds: Ds, project_id: str, who: Principal | None = None
) -> list[dict[str, Any]]:
    listed = await ds.get(f"{PROJECTS}/{project_id}/documents", who)
    return listed["items"]  # type: ignore[no-any-return]


async def test_an_attachment_is_fetched_stored_typed_and_not_stored_twice(
    ds: Ds, host: FakeDS, storage: DocumentStorage
) -> None:
    attach(host, served(host, "/files/deliberation", PDF))
    assert (await ds.put_mapping(MAPPING_WITH_DOCUMENTS)).status_code == 201
    item = by_number(await ds.synced())[VILLENEUVE]
    assert item["outcome"] == "created"
    [entry] = item["attachments"]
    assert (entry["champ"], entry["kind"], entry["outcome"]) == (CHAMP, "deliberation", "stored")
    [document] = await documents_of(ds, item["project_id"])
    assert document["id"] == entry["document_id"]
    assert (document["kind"], document["filename"]) == ("deliberation", "délibération.pdf")
    assert document["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert (document["size_bytes"], document["content_type"]) == (len(PDF), "application/pdf")
    assert document["scan_status"] in ("pending", "unscanned")  # R-DOC-2: scanned as an upload
    keys = await stored_keys(storage)
    assert keys == [f"projects/{uuid.UUID(item['project_id']).hex}/{document['sha256']}"]

    # Changed on DS (another champ): read again, its file fetched again, not stored twice.
    host.edit(VILLENEUVE, "2021-03-28T10:00:00+02:00")
    again = by_number(await ds.synced())[VILLENEUVE]
    assert [a["outcome"] for a in again["attachments"]] == ["unchanged"]
    assert again["attachments"][0]["document_id"] == document["id"]
    assert host.file_requests == ["/files/deliberation"] * 2
    assert len(await documents_of(ds, item["project_id"])) == 1
    assert await stored_keys(storage) == keys

    # A new file in the champ: a new version, the old one superseded (R-DOC-2).
    attach(host, served(host, "/files/deliberation-2", PDF + b"%v2\n"))
    host.edit(VILLENEUVE, "2021-03-29T10:00:00+02:00")
    third = by_number(await ds.synced())[VILLENEUVE]
    assert [a["outcome"] for a in third["attachments"]] == ["stored"]
    versions = await documents_of(ds, item["project_id"])
    assert len(versions) == 2
    old = next(d for d in versions if d["id"] == document["id"])
    assert old["superseded_by"] == third["attachments"][0]["document_id"]


async def test_a_failed_attachment_is_reported_the_dossier_kept_and_retried(
    ds: Ds, host: FakeDS, storage: DocumentStorage
) -> None:
    missing = {**served(host, "/files/gone", PDF), "filename": "expiré.pdf"}
    del host.files["/files/gone"]  # an expired link: 404
    tampered = served(host, "/files/tampered", PDF, checksum=md5_checksum(b"other"))
    executable = served(host, "/files/exe", EXE, filename="deliberation.pdf")
    attach(host, missing, tampered, executable)
    assert (await ds.put_mapping(MAPPING_WITH_DOCUMENTS)).status_code == 201
    report = await ds.synced()
    item = by_number(report)[VILLENEUVE]
    assert item["outcome"] == "created" and report["created"] == 3  # the dossier is not lost
    outcomes = [(a["filename"], a["outcome"], a["code"]) for a in item["attachments"]]
    assert outcomes == [
        ("expiré.pdf", "failed", "DS-ATTACHMENT"),
        ("délibération.pdf", "failed", "DS-ATTACHMENT"),
        ("deliberation.pdf", "failed", "R-DOC-2"),  # typed from its bytes: an executable
    ]
    assert "404" in item["attachments"][0]["message"]
    assert "empreinte" in item["attachments"][1]["message"]
    assert await documents_of(ds, item["project_id"]) == []
    assert await stored_keys(storage) == []  # nothing kept, staging included

    # The link works again: the next sync reads the dossier again (its updatedSince is not
    # past it) and files the attachment, though nothing changed on DS.
    host.files["/files/gone"] = (200, {}, PDF)
    attach(host, missing)
    again = by_number(await ds.synced())
    assert [a["outcome"] for a in again[VILLENEUVE]["attachments"]] == ["stored"]
    assert len(await documents_of(ds, item["project_id"])) == 1


async def test_the_size_limit_holds_for_attachments(
    app: FastAPI, ds: Ds, host: FakeDS, storage: DocumentStorage
) -> None:
    """R-DOC-2: announced too large, not fetched; larger than announced, stopped at the limit."""
    app.state.settings = app.state.settings.model_copy(update={"documents_max_bytes": 1024})
    big = PDF + b"\x00" * 4096
    announced = served(host, "/files/big", big)
    hidden = served(host, "/files/hidden", big, byteSize=None, checksum=None)
    attach(host, announced, hidden)
    assert (await ds.put_mapping(MAPPING_WITH_DOCUMENTS)).status_code == 201
    item = by_number(await ds.synced())[VILLENEUVE]
    assert [(a["outcome"], a["code"]) for a in item["attachments"]] == [("failed", "R-DOC-2")] * 2
    assert host.file_requests == ["/files/hidden"]
    assert await stored_keys(storage) == []


async def test_attachment_urls_pass_the_ssrf_guard(
    app: FastAPI, ds: Ds, fake: FakeDS, storage: DocumentStorage
) -> None:
    """R-HOOK-1's address checks apply to attachment URLs and to their redirects: loopback
    without the operator's leave, a private address, never connected to."""
    port = int(fake.url.split(":")[2].split("/")[0])
    loopback = served(fake, "/files/deliberation", PDF)
    fake.files["/files/redirect"] = (302, {"location": "https://10.1.2.3/secret"}, b"")
    redirected = {**loopback, "url": fake.file_url("/files/redirect")}
    attach(fake, loopback)
    assert (await ds.put_mapping(MAPPING_WITH_DOCUMENTS)).status_code == 201
    # The webhooks' default: no loopback, https only.
    [entry] = by_number(await ds.synced())[VILLENEUVE]["attachments"]
    assert (entry["outcome"], entry["code"]) == ("failed", "DS-ATTACHMENT")
    assert "R-HOOK-1" in entry["message"]
    assert fake.file_requests == []

    app.state.settings = app.state.settings.model_copy(
        update={"webhook_allow_loopback": True, "webhook_allowed_ports": [port]}
    )
    attach(fake, redirected)
    fake.edit(VILLENEUVE, "2021-03-28T10:00:00+02:00")
    [entry] = by_number(await ds.synced())[VILLENEUVE]["attachments"]
    assert entry["outcome"] == "failed" and "10.1.2.3" in entry["message"]
    assert fake.file_requests == ["/files/redirect"]  # the private address never reached
    assert await stored_keys(storage) == []


async def test_a_prefect_does_not_fetch_another_departements_attachments(
    ds: Ds, host: FakeDS, storage: DocumentStorage
) -> None:
    """R-ACL-1: out of scope, the dossier's files are not even fetched; in scope, they are."""
    attach(host, served(host, "/files/deliberation", PDF))
    assert (await ds.put_mapping(MAPPING_WITH_DOCUMENTS)).status_code == 201
    item = by_number(await ds.synced(PREF33))[VILLENEUVE]
    assert {r["reason"] for r in item["reasons"]} == {"out_of_scope"}
    assert item["attachments"] == [] and host.file_requests == []
    assert await stored_keys(storage) == []
    item = by_number(await ds.synced(PREF47))[VILLENEUVE]
    assert [a["outcome"] for a in item["attachments"]] == ["stored"]
    assert len(await documents_of(ds, item["project_id"], PREF47)) == 1


@pytest.mark.parametrize(
    "documents",
    [
        [{"champ": CHAMP, "kind": "deliberation"}, {"champ": CHAMP, "kind": "final_report"}],
        [{"champ": CHAMP, "kind": "quote"}],  # a quote names an expense line
        [{"champ": CHAMP, "kind": "attestation"}],  # the candidate's, not the dossier's
        [{"champ": "", "kind": "deliberation"}],
    ],
)
async def test_the_documents_table_of_a_mapping_is_validated(
    ds: Ds, fake: FakeDS, documents: list[dict[str, str]]
) -> None:
    response = await ds.put_mapping({**MAPPING, "documents": documents})
    assert response.status_code == 422, response.text
    if documents[0]["kind"] in ("quote", "attestation"):  # R-DOC-1: read from the programme
        assert response.json()["errors"] == [
            {"code": "R-DOC-1", "field": "/documents/0/kind", "message": ANY, "in": "body"}
        ]


async def test_the_documents_table_is_stored_and_read_back(ds: Ds, fake: FakeDS) -> None:
    assert (await ds.put_mapping(copy.deepcopy(MAPPING_WITH_DOCUMENTS))).status_code == 201
    stored = await ds.get(f"{DS}/demarches/{DEMARCHE}/mapping")
    assert stored["documents"] == [{"champ": CHAMP, "kind": "deliberation"}]
