"""A DS dossier's attachments fetched during the sync (issue 24).

DS serves each file of a `PieceJustificativeChamp` at a URL that expires: it is fetched while
the sync runs, before the import's transaction (like the pages: no transaction stays open
while the network is waited on), straight into a staging object of the documents' storage
through the upload's own path (`upload.stage_stream`: size limit while reading, SHA-256, type
from the bytes). DS's checksum (ActiveStorage's base64 MD5) and byte size are checked when DS
gives them. Once the import has its dossier, `file_all` files them through the documents
service (`import_project_document`): scanned like an upload, never the same bytes twice.

An attachment URL is an outbound URL chosen by whoever controls the answer: it passes the
webhooks' SSRF guard (R-HOOK-1, `app/webhooks/guard.py`): https on 443 (or a port the operator
allows), every address the host resolves to public, the connection pinned to a checked address;
a redirect is checked the same way before it is followed (at most `MAX_REDIRECTS`). The HTTP
client is built like the DS client's: timeouts, no redirect followed by httpx, no proxy from
the environment; DS's token is never sent to a file host.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.core.config import Settings
from app.core.errors import AppError
from app.documents import filing as documents_filing
from app.documents.errors import DocumentTooLarge
from app.documents.storage import DocumentStorage
from app.documents.upload import ReceivedFile, stage_stream
from app.ds.client import USER_AGENT
from app.ds.dossier_rules import Attachment, ParsedDossier
from app.projects.models import Project
from app.webhooks.guard import Resolver, TargetPolicy, pinned, resolve, system_resolver

MAX_REDIRECTS = 3
FAILED = "DS-ATTACHMENT"


@dataclass
class Fetched:
    """An attachment staged (`received`), or why it is not (`code`, `message`)."""

    attachment: Attachment
    received: ReceivedFile | None = None
    code: str | None = None
    message: str | None = None


def policy_of(settings: Settings) -> TargetPolicy:
    """R-HOOK-1's address and port checks (loopback only where the operator allows it for
    webhooks: development, tests); not the webhooks' host list, which names receivers."""
    return TargetPolicy(
        allow_loopback=settings.webhook_allow_loopback,
        allowed_ports=tuple(settings.webhook_allowed_ports),
    )


def http_client(settings: Settings) -> httpx.AsyncClient:
    timeout = settings.ds_timeout_seconds
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        follow_redirects=False,
        trust_env=False,
    )


def checksum_of(md5: bytes) -> str:
    """ActiveStorage's checksum: the base64 of the MD5 digest."""
    return base64.b64encode(md5).decode("ascii")


async def _open(
    http: httpx.AsyncClient, url: str, settings: Settings, resolver: Resolver
) -> httpx.Response | str:
    """The answer to a GET of `url` (streamed, to be closed), or why it was not sent."""
    target = await resolve(url, policy_of(settings), resolver)
    if isinstance(target, str):
        return f"Lien du fichier refusé (R-HOOK-1) : {target}"
    failure = "aucune adresse"
    for address in target.addresses:
        pinned_url, host, extensions = pinned(target, address)
        request = http.build_request(
            "GET",
            pinned_url,
            headers={**host, "user-agent": USER_AGENT, "accept-encoding": "identity"},
            extensions=extensions,
        )
        try:
            return await http.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            failure = f"{type(exc).__name__} ({address})"
            continue  # nothing was sent: the next checked address
        except httpx.HTTPError as exc:
            return f"Téléchargement impossible : {type(exc).__name__}."
    return f"Hôte du fichier injoignable : {failure}."


async def fetch(
    http: httpx.AsyncClient,
    attachment: Attachment,
    *,
    storage: DocumentStorage,
    settings: Settings,
    resolver: Resolver = system_resolver,
) -> Fetched:
    """Stage one attachment; never raises for what the file host or DS's answer does."""
    limit = settings.documents_max_bytes
    if attachment.url is None:
        return Fetched(attachment, code=FAILED, message="Fichier sans lien dans la réponse de DS.")
    if attachment.byte_size is not None and attachment.byte_size > limit:
        return Fetched(attachment, code="R-DOC-2", message=DocumentTooLarge(limit).detail)
    url = attachment.url
    for _ in range(MAX_REDIRECTS + 1):
        opened = await _open(http, url, settings, resolver)
        if isinstance(opened, str):
            return Fetched(attachment, code=FAILED, message=opened)
        try:
            if opened.is_redirect and "location" in opened.headers:
                url = str(httpx.URL(url).join(opened.headers["location"]))
                continue
            if opened.status_code != 200:
                return Fetched(
                    attachment,
                    code=FAILED,
                    message=f"L'hôte du fichier répond {opened.status_code} (lien expiré ?).",
                )
            return await _stage(opened, attachment, storage, limit)
        finally:
            await opened.aclose()
    return Fetched(attachment, code=FAILED, message="Trop de redirections.")


async def _stage(
    response: httpx.Response, attachment: Attachment, storage: DocumentStorage, limit: int
) -> Fetched:
    md5 = hashlib.md5(usedforsecurity=False)

    async def chunks() -> AsyncIterator[bytes]:
        async for chunk in response.aiter_bytes():
            md5.update(chunk)
            yield chunk

    try:
        received = await stage_stream(
            chunks(), attachment.filename, storage=storage, max_bytes=limit
        )
    except DocumentTooLarge as exc:  # R-DOC-2: stopped at the limit, nothing kept
        return Fetched(attachment, code="R-DOC-2", message=exc.detail)
    except httpx.HTTPError as exc:
        return Fetched(attachment, code=FAILED, message=f"Téléchargement interrompu : {exc}.")
    problem = None
    if attachment.checksum is not None and checksum_of(md5.digest()) != attachment.checksum:
        problem = "L'empreinte du fichier reçu diffère de celle que DS annonce."
    elif attachment.byte_size is not None and received.size != attachment.byte_size:
        problem = f"Fichier reçu de {received.size} octets, DS en annonce {attachment.byte_size}."
    if problem is not None:
        await storage.discard(received.staging_key)
        return Fetched(attachment, code=FAILED, message=problem)
    return Fetched(attachment, received=received)


async def fetch_all(
    dossiers: list[ParsedDossier], settings: Settings, storage: DocumentStorage
) -> dict[str, list[Fetched]]:
    """Issue 24: every mapped attachment of these dossiers staged now (their URLs expire),
    before the import's transaction; by dossier id."""
    fetched: dict[str, list[Fetched]] = {}
    wanted = [d for d in dossiers if d.attachments]
    if not wanted:
        return fetched
    async with http_client(settings) as http:
        for dossier in wanted:
            fetched[dossier.id] = [
                await fetch(http, a, storage=storage, settings=settings)
                for a in dossier.attachments
            ]
    return fetched


async def file_all(
    session: AsyncSession,
    principal: Principal,
    project: Project | None,
    fetched: list[Fetched],
    settings: Settings,
    storage: DocumentStorage,
) -> tuple[list[dict[str, Any]], bool]:
    """File a dossier's staged attachments as its documents (stored and scanned like an
    upload, R-DOC-2; the same bytes are not filed twice): each one's outcome, and True when
    one could not be fetched (the dossier is read again at the next sync). No `project` (the
    dossier refused, flagged or out of scope): nothing is filed."""
    failed = False
    entries: list[dict[str, Any]] = []
    for one in fetched:
        entry: dict[str, Any] = {
            "champ": one.attachment.champ,
            "kind": one.attachment.kind,
            "filename": one.attachment.filename,
        }
        entries.append(entry)
        if one.received is None:
            entry.update(outcome="failed", code=one.code, message=one.message)
            failed = failed or one.code == FAILED  # a refusal (R-DOC-2) stays one
            continue
        if project is None:  # refused, flagged or out of scope: nothing of it is filed
            await storage.discard(one.received.staging_key)
            entry.update(
                outcome="failed",
                code=FAILED,
                message="Dossier non importé ou signalé : sa pièce n'est pas reprise.",
            )
            continue
        try:
            document, new = await documents_filing.import_project_document(
                session,
                principal,
                project=project,
                kind=one.attachment.kind,
                received=one.received,
                storage=storage,
                settings=settings,
            )
        except AppError as exc:  # R-DOC-2: a type not allowed, refused before any write
            entry.update(outcome="failed", code=exc.code, message=exc.detail)
            continue
        entry.update(outcome="stored" if new else "unchanged", document_id=str(document.id))
    return entries, failed
