"""Issue 24: an upload holds no database connection (nor SQLite's write lock, nor a slot of the
checkout gate) while its body arrives. Before, each upload kept the transaction of its scope
check open for its whole transfer: slow clients took the pool (PostgreSQL: 10 of 20 uploads at
1 MB/s answered 503) or the single write lock (SQLite: 19 of 20), and every other write waited.

Here five uploads stop half-way through their bodies: meanwhile no connection is checked out,
and another upload and a draft's edit go through; then the five finish, 201 each.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from httpx import AsyncClient

from app.auth.principal import Principal, Role
from app.documents.storage import DocumentStorage
from tests.concurrency.conftest import World, commune_sirens
from tests.factories import make_candidate, make_project

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + b"%" * 300_000 + b"\n%%EOF\n"
PAUSED = 5


def multipart(url: str, name: str) -> tuple[bytes, str]:
    """The body and content type httpx would send for this form."""
    request = httpx.Request(
        "POST", url, data={"kind": "deliberation"}, files={"file": (name, PDF, "application/pdf")}
    )
    return request.read(), request.headers["content-type"]


@pytest.fixture
def storage(world: World, tmp_path: Path) -> Iterator[DocumentStorage]:
    """The world's app stores its documents under this test's folder."""
    state = world.app.state
    before = getattr(state, "document_storage", None)
    state.document_storage = DocumentStorage.from_settings(
        world.settings.model_copy(update={"documents_dir": str(tmp_path)})
    )
    try:
        yield state.document_storage
    finally:
        state.document_storage = before


async def test_r_doc_2_an_upload_holds_no_connection_while_its_body_arrives(
    world: World, http: AsyncClient, storage: DocumentStorage
) -> None:
    (siren,) = commune_sirens("40", 1)
    async with world.sessionmaker() as session, session.begin():
        candidate = await make_candidate(session, siren=siren)
        project = await make_project(session, candidate=candidate)
    agent = world.headers(Principal("agent-landes", Role.CANDIDATE, siren=siren))
    url = f"/api/v1/projects/{project.id}/documents"
    halfway = [asyncio.Event() for _ in range(PAUSED)]
    release = asyncio.Event()

    async def slow_body(index: int) -> tuple[AsyncIterator[bytes], str]:
        body, content_type = multipart(url, f"deliberation-{index}.pdf")

        async def chunks() -> AsyncIterator[bytes]:
            yield body[: len(body) // 2]
            halfway[index].set()
            await release.wait()  # the client goes quiet half-way through its body
            yield body[len(body) // 2 :]

        return chunks(), content_type

    async def post_slowly(index: int) -> httpx.Response:
        content, content_type = await slow_body(index)
        return await http.post(
            url, content=content, headers={**agent, "content-type": content_type}
        )

    uploads = [asyncio.create_task(post_slowly(i)) for i in range(PAUSED)]
    try:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in halfway)), timeout=30)
        await asyncio.sleep(0.2)  # what the service does with the first halves, it has done
        assert world.app.state.engine.pool.checkedout() == 0
        # Meanwhile another upload and a write to the same dossier go through at once.
        body, content_type = multipart(url, "devis.pdf")
        quick = await asyncio.wait_for(
            http.post(url, content=body, headers={**agent, "content-type": content_type}), 10
        )
        assert quick.status_code == 201, quick.text
        read = await http.get(f"/api/v1/projects/{project.id}", headers=agent)
        edited = await asyncio.wait_for(
            http.patch(
                f"/api/v1/projects/{project.id}",
                json={"title": "Dématérialisation des actes"},
                headers={**agent, "If-Match": read.headers["etag"]},
            ),
            10,
        )
        assert edited.status_code == 200, edited.text
    finally:
        release.set()
    answers = await asyncio.gather(*uploads)
    assert [a.status_code for a in answers] == [201] * PAUSED, [a.text for a in answers]
