"""A small asyncio client of ClamAV's daemon (clamd): PING and INSTREAM (R-DOC-2).

INSTREAM: after `zINSTREAM\\0`, the bytes go as chunks, each prefixed by its length (4 bytes,
network order), ended by a zero length; clamd answers one line ended by NUL: `stream: OK`,
`stream: <signature> FOUND`, or `… ERROR` (its size limit passed, for one). The address is
`unix:///path/to/clamd.ctl` or `tcp://host:3310`.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

CHUNK_BYTES = 64 * 1024
TIMEOUT_SECONDS = 60.0


class ScannerUnavailable(Exception):
    """clamd could not be reached or answered nothing usable: the document stays pending."""


@dataclass(frozen=True)
class Verdict:
    infected: bool
    signature: str | None = None


async def _connect(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(url)
    try:
        if parts.scheme == "unix":
            return await asyncio.wait_for(asyncio.open_unix_connection(parts.path), 5)
        if parts.scheme == "tcp" and parts.hostname and parts.port:
            return await asyncio.wait_for(asyncio.open_connection(parts.hostname, parts.port), 5)
    except (OSError, TimeoutError) as exc:
        raise ScannerUnavailable(f"clamd injoignable ({url}) : {exc}") from exc
    raise ScannerUnavailable(f"adresse de clamd invalide : {url}")


async def _reply(reader: asyncio.StreamReader) -> str:
    try:
        raw = await asyncio.wait_for(reader.readuntil(b"\0"), TIMEOUT_SECONDS)
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        raise ScannerUnavailable(f"clamd n'a pas répondu : {exc}") from exc
    return raw.rstrip(b"\0").decode("utf-8", "replace").strip()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def ping(url: str) -> bool:
    """True when clamd answers PONG."""
    try:
        reader, writer = await _connect(url)
    except ScannerUnavailable:
        return False
    try:
        writer.write(b"zPING\0")
        await writer.drain()
        return await _reply(reader) == "PONG"
    except (OSError, ScannerUnavailable):
        return False
    finally:
        await _close(writer)


def parse_reply(reply: str) -> Verdict:
    """`stream: OK` → clean; `stream: X FOUND` → infected by X; anything else: unavailable."""
    body = reply.removeprefix("stream:").strip()
    if body == "OK":
        return Verdict(infected=False)
    if body.endswith(" FOUND"):
        return Verdict(infected=True, signature=body.removesuffix(" FOUND").strip()[:150])
    raise ScannerUnavailable(f"réponse de clamd inattendue : {reply[:200]}")


async def scan(url: str, chunks: AsyncIterator[bytes]) -> Verdict:
    """Stream the bytes to clamd (INSTREAM) and return its verdict."""
    reader, writer = await _connect(url)
    try:
        writer.write(b"zINSTREAM\0")
        async for chunk in chunks:
            for start in range(0, len(chunk), CHUNK_BYTES):
                piece = chunk[start : start + CHUNK_BYTES]
                writer.write(struct.pack("!L", len(piece)) + piece)
                await asyncio.wait_for(writer.drain(), TIMEOUT_SECONDS)
        writer.write(struct.pack("!L", 0))
        await asyncio.wait_for(writer.drain(), TIMEOUT_SECONDS)
        return parse_reply(await _reply(reader))
    except (OSError, TimeoutError) as exc:
        raise ScannerUnavailable(f"clamd a coupé la connexion : {exc}") from exc
    finally:
        await _close(writer)
