"""A multipart/form-data upload read as it arrives, straight to storage (issue 24, R-DOC-2).

Why not FastAPI's `UploadFile`: Starlette parses the whole multipart body before the handler
runs, spooling each file to a temporary file (in memory up to 1 MiB, then on disk). The size
limit could only be checked afterwards (a 25 MB upload fully received, then refused), the hash
and the type computed in a second pass, and the bytes written twice. Here the request's body
(`request.stream()`) is fed to python-multipart's streaming parser (the one Starlette uses
underneath); each piece of the file is counted, hashed and written to a staging object as it
comes: past the limit the upload stops at once (413), and memory holds one chunk, the first
64 KiB (for the type) and the storage's part buffer, whatever the file's size.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import magic
from python_multipart.multipart import MultipartParser, parse_options_header

from app.documents.errors import DocumentTooLarge, NotMultipart, UploadInvalid
from app.documents.storage import DocumentStorage

if TYPE_CHECKING:
    from obstore import AsyncWritableFile

FILE_FIELD = "file"
# libmagic judges the type on the file's head: enough for PDF, images, and the first entries
# of an OpenDocument or Office Open XML archive (`mimetype`, `[Content_Types].xml`, `word/`).
HEAD_BYTES = 64 * 1024
MAX_FIELD_BYTES = 200
MAX_PARTS = 8
# Room for the text fields and the multipart framing around the file.
FRAMING_BYTES = 64 * 1024


def detect_type(head: bytes) -> str:
    """R-DOC-2: the type read from the bytes by the system's libmagic. Plain text is CSV only
    when it reads as one: UTF-8 lines split by one separator into as many fields each."""
    if not head:
        return "application/x-empty"
    detected = str(magic.from_buffer(head, mime=True))
    if detected in ("text/plain", "text/csv") and not looks_like_csv(head):
        return "text/plain"
    return "text/csv" if detected == "text/plain" else detected


def looks_like_csv(head: bytes) -> bool:
    """Whether a text head reads as CSV: at least two lines, and a separator (`,`, `;` or a
    tab) that splits every complete line into the same number (≥ 2) of fields."""
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:  # a head cut inside a character is still UTF-8
        if exc.start < len(head) - 3:
            return False
        text = head[: exc.start].decode("utf-8-sig")
    lines = text.splitlines()
    if len(head) >= HEAD_BYTES and lines:
        lines = lines[:-1]  # the last one may be cut
    lines = [line for line in lines if line.strip()]
    if len(lines) < 2:
        return False
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=",;\t")
    except csv.Error:
        return False
    widths = {len(row) for row in csv.reader(lines, dialect)}
    return len(widths) == 1 and widths.pop() >= 2


@dataclass
class ReceivedFile:
    staging_key: str
    filename: str | None
    size: int
    sha256: str
    detected_type: str


@dataclass
class ReceivedForm:
    fields: dict[str, str] = field(default_factory=dict)
    file: ReceivedFile | None = None


@dataclass
class _FilePart:
    staging_key: str
    filename: str | None
    writer: AsyncWritableFile
    hasher: Any = field(default_factory=hashlib.sha256)
    head: bytearray = field(default_factory=bytearray)
    size: int = 0

    async def feed(self, data: bytes, max_bytes: int) -> None:
        """Count, hash, keep the head and write one piece of the file."""
        self.size += len(data)
        if self.size > max_bytes:  # R-DOC-2: refused as soon as the limit is passed
            raise DocumentTooLarge(max_bytes)
        self.hasher.update(data)
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]
        await self.writer.write(data)

    async def finish(self) -> ReceivedFile:
        await self.writer.close()
        return ReceivedFile(
            staging_key=self.staging_key,
            filename=self.filename,
            size=self.size,
            sha256=self.hasher.hexdigest(),
            detected_type=detect_type(bytes(self.head)),
        )


class _Reader:
    """Turns the parser's callbacks into steps run between two chunks of the body."""

    def __init__(self, storage: DocumentStorage, max_bytes: int) -> None:
        self.storage = storage
        self.max_bytes = max_bytes
        self.events: list[tuple[str, bytes]] = []
        self.form = ReceivedForm()
        self.parts = 0
        self.header_field = b""
        self.headers: dict[bytes, bytes] = {}
        self.current_field: str | None = None
        self.current_value = bytearray()
        self.file: _FilePart | None = None
        self.staged: list[str] = []  # every staging key opened: discarded on failure

    def callbacks(self) -> dict[str, Any]:
        def on(kind: str) -> Any:
            return lambda: self.events.append((kind, b""))

        def on_data(kind: str) -> Any:
            def _append(data: bytes, start: int, end: int) -> None:
                self.events.append((kind, bytes(data[start:end])))

            return _append

        return {
            "on_part_begin": on("part_begin"),
            "on_header_field": on_data("header_field"),
            "on_header_value": on_data("header_value"),
            "on_header_end": on("header_end"),
            "on_headers_finished": on("headers_finished"),
            "on_part_data": on_data("part_data"),
            "on_part_end": on("part_end"),
        }

    async def run_events(self) -> None:
        events, self.events = self.events, []
        for kind, data in events:
            await self._step(kind, data)

    async def _step(self, kind: str, data: bytes) -> None:
        if kind == "part_begin":
            self.parts += 1
            if self.parts > MAX_PARTS:
                raise UploadInvalid.field(FILE_FIELD, "trop de champs dans le formulaire.")
            self.headers, self.header_field = {}, b""
            self.current_field, self.current_value = None, bytearray()
        elif kind == "header_field":
            self.header_field += data
        elif kind == "header_value":
            name = self.header_field.lower()
            self.headers[name] = self.headers.get(name, b"") + data
        elif kind == "header_end":
            self.header_field = b""
        elif kind == "headers_finished":
            await self._start_part()
        elif kind == "part_data":
            await self._data(data)
        elif kind == "part_end":
            await self._end_part()

    async def _start_part(self) -> None:
        disposition, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        if disposition != b"form-data" or b"name" not in options:
            raise UploadInvalid.field(FILE_FIELD, "partie sans nom (Content-Disposition).")
        name = options[b"name"].decode("utf-8", "replace")
        if name == FILE_FIELD:
            if self.file is not None or self.form.file is not None:
                raise UploadInvalid.field(FILE_FIELD, "un seul fichier par dépôt.")
            raw = options.get(b"filename")
            filename = raw.decode("utf-8", "replace") if raw is not None else None
            key = self.storage.staging_key()
            self.staged.append(key)
            writer = self.storage.open_writer(key)
            self.file = _FilePart(staging_key=key, filename=filename, writer=writer)
        else:
            if name in self.form.fields:
                raise UploadInvalid.field(name, "champ donné deux fois.")
            self.current_field = name

    async def _data(self, data: bytes) -> None:
        if self.file is not None:
            await self.file.feed(data, self.max_bytes)
        elif self.current_field is not None:
            self.current_value += data
            if len(self.current_value) > MAX_FIELD_BYTES:
                raise UploadInvalid.field(self.current_field, "valeur trop longue.")

    async def _end_part(self) -> None:
        if self.file is not None:
            part, self.file = self.file, None
            self.form.file = await part.finish()
        elif self.current_field is not None:
            try:
                value = self.current_value.decode("utf-8")
            except UnicodeDecodeError:
                raise UploadInvalid.field(self.current_field, "texte UTF-8 attendu.") from None
            self.form.fields[self.current_field] = value
            self.current_field = None

    async def abandon(self) -> None:
        if self.file is not None:
            with contextlib.suppress(Exception):  # the staging object is discarded anyway
                await self.file.writer.close()
        for key in self.staged:
            await self.storage.discard(key)


async def receive_form(
    body: AsyncIterator[bytes],
    content_type: str | None,
    *,
    storage: DocumentStorage,
    max_bytes: int,
) -> ReceivedForm:
    """Read a multipart/form-data body: its text fields, and its one file (`file`) staged in
    storage with its size, SHA-256 and the type read from its bytes.

    Raises NotMultipart (415), DocumentTooLarge (413, as soon as the file passes `max_bytes`)
    or UploadInvalid (422); on any failure nothing is kept in storage."""
    media, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if media != b"multipart/form-data" or not boundary:
        raise NotMultipart()
    reader = _Reader(storage, max_bytes)
    try:
        parser = MultipartParser(boundary, cast(Any, reader.callbacks()))
        received = 0
        async for chunk in body:
            received += len(chunk)
            if received > max_bytes + FRAMING_BYTES:
                raise DocumentTooLarge(max_bytes)
            parser.write(chunk)
            await reader.run_events()
        parser.finalize()
        await reader.run_events()
        if reader.file is not None or reader.current_field is not None:
            raise UploadInvalid.field(FILE_FIELD, "le formulaire est tronqué.")
    except Exception as exc:
        await reader.abandon()
        if isinstance(exc, DocumentTooLarge | NotMultipart | UploadInvalid):
            raise
        if type(exc).__module__.startswith("python_multipart"):
            raise UploadInvalid.field(FILE_FIELD, "corps multipart mal formé.") from exc
        raise
    return reader.form


async def stage_stream(
    chunks: AsyncIterator[bytes],
    filename: str | None,
    *,
    storage: DocumentStorage,
    max_bytes: int,
) -> ReceivedFile:
    """A file that is not a form (a démarches-simplifiées attachment, issue 24) staged like an
    upload's: counted (DocumentTooLarge as soon as it passes `max_bytes`), hashed, typed from
    its bytes. On any failure nothing is kept in storage."""
    key = storage.staging_key()
    part = _FilePart(staging_key=key, filename=filename, writer=storage.open_writer(key))
    try:
        async for chunk in chunks:
            await part.feed(chunk, max_bytes)
        return await part.finish()
    except BaseException:
        with contextlib.suppress(Exception):  # the staging object is discarded anyway
            await part.writer.close()
        await storage.discard(key)
        raise
