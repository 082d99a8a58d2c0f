"""Where documents' bytes live: one interface, two backends (issue 24).

`obstore` gives one async, streaming API over the local filesystem (`LocalStore`, under `var/`:
the embedded default of `make run`) and S3-compatible object storage (`S3Store`: the State's
clouds, OVH, Scaleway; tests run it against moto's server). An upload is written to a staging
key while it is read (nothing held in memory but one part buffer), then copied to its final
key, derived from the owner and the content's hash (`rules.storage_key`), once it is accepted;
the staging object is deleted either way.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import obstore
from obstore.exceptions import NotFoundError
from obstore.store import LocalStore, S3Store

from app.core.config import Settings

if TYPE_CHECKING:
    from obstore import AsyncWritableFile

STAGING_PREFIX = "staging"
# A multipart upload's part: S3 wants 5 MiB at least (but the last). The memory an upload
# holds, whatever the file's size.
PART_BYTES = 5 * 1024 * 1024
READ_CHUNK_BYTES = 256 * 1024


class StoredObjectMissing(Exception):
    """The row references bytes the store does not have."""


class DocumentStorage:
    """The one interface the documents domain speaks to, whatever the backend."""

    def __init__(self, store: Any, *, backend: str) -> None:
        self.store = store
        self.backend = backend

    @classmethod
    def from_settings(cls, settings: Settings) -> DocumentStorage:
        if settings.documents_storage == "s3":
            config: dict[str, Any] = {"region": settings.documents_s3_region}
            if settings.documents_s3_endpoint:
                config["endpoint"] = settings.documents_s3_endpoint
            if settings.documents_s3_access_key_id is not None:
                config["access_key_id"] = settings.documents_s3_access_key_id
            if settings.documents_s3_secret_access_key is not None:
                config["secret_access_key"] = (
                    settings.documents_s3_secret_access_key.get_secret_value()
                )
            client_options = {"allow_http": settings.documents_s3_endpoint.startswith("http:")}
            store: Any = S3Store(
                settings.documents_s3_bucket,
                prefix=settings.documents_s3_prefix or None,
                config=config,  # type: ignore[arg-type]
                client_options=client_options,  # type: ignore[arg-type]
            )
            return cls(store, backend="s3")
        root = Path(settings.documents_dir)
        root.mkdir(parents=True, exist_ok=True)
        return cls(LocalStore(root.resolve(), mkdir=True), backend="filesystem")

    def staging_key(self) -> str:
        return f"{STAGING_PREFIX}/{uuid.uuid4().hex}"

    def open_writer(self, key: str) -> AsyncWritableFile:
        return obstore.open_writer_async(self.store, key, buffer_size=PART_BYTES)

    async def promote(self, staging: str, key: str) -> None:
        """Move accepted bytes to their final key (the same content may be there already:
        the key is its hash), then drop the staging object."""
        await obstore.copy_async(self.store, staging, key, overwrite=True)
        await self.discard(staging)

    async def discard(self, key: str) -> None:
        with contextlib.suppress(NotFoundError, FileNotFoundError):
            await obstore.delete_async(self.store, key)

    async def exists(self, key: str) -> bool:
        try:
            await obstore.head_async(self.store, key)
        except (NotFoundError, FileNotFoundError):
            return False
        return True

    async def sweep_staging(self, before: datetime) -> int:
        """Delete staging objects last written before `before` (real time): what an upload
        interrupted by a crash left behind. Returns how many were deleted."""
        stale: list[str] = []
        try:
            async for batch in obstore.list(self.store, prefix=STAGING_PREFIX):
                stale.extend(m["path"] for m in batch if m["last_modified"] < before)
        except (NotFoundError, FileNotFoundError):
            return 0
        for key in stale:
            await self.discard(key)
        return len(stale)

    async def read(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """The bytes from `start` to `end` (exclusive), streamed in chunks."""
        options: dict[str, Any] = {}
        if start or end is not None:
            options["range"] = (start, end) if end is not None else {"offset": start}
        try:
            result = await obstore.get_async(self.store, key, options=options)  # type: ignore[arg-type]
        except (NotFoundError, FileNotFoundError) as exc:
            raise StoredObjectMissing(key) from exc
        return _chunks(result.stream(min_chunk_size=READ_CHUNK_BYTES))


async def _chunks(stream: Any) -> AsyncIterator[bytes]:
    async for chunk in stream:
        yield bytes(chunk)
