"""Syncing a démarche (issue 14): its dossiers read from DS, then imported, and the runs listed.

Every page is read from DS first (no write yet), so that a DS failure, a GraphQL `errors`
answer included, leaves nothing half-written; then each dossier is imported in the request's
transaction (`dossier_import`). R-ACL-1: a prefect syncs its own département's dossiers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.audit import service as audit
from app.auth.principal import Principal, Role
from app.core.config import Settings
from app.core.db import read_only_transaction
from app.core.pagination import PageParams, keyset_page, split_page
from app.core.types import utcnow
from app.documents.storage import DocumentStorage
from app.ds import attachments, client as ds_client
from app.ds.dossier_import import Item, create_dossier, out_of_scope, reason_entry, update_dossier
from app.ds.dossier_rules import Mapping, NodeResult, parse_node
from app.ds.errors import DsFailed, DsNotConfigured
from app.ds.mappings import get_demarche
from app.ds.models import DsDemarche, DsDossier, DsSyncRun
from app.projects.models import Project


def _scope_of(principal: Principal) -> str | None:
    return principal.departement if principal.role is Role.PREFECT else None


async def _since(session: AsyncSession, demarche: DsDemarche, scope: str | None) -> datetime | None:
    """The next updatedSince: the high-water mark of the runs since the mapping last changed
    (a changed mapping reads every dossier again) whose scope covers this one."""
    stmt = select(DsSyncRun.high_water).where(
        DsSyncRun.demarche_number == demarche.number,
        col(DsSyncRun.created_at) >= demarche.updated_at,
        col(DsSyncRun.high_water).is_not(None),
    )
    if scope is None:
        stmt = stmt.where(col(DsSyncRun.departement).is_(None))
    else:
        stmt = stmt.where(
            or_(col(DsSyncRun.departement).is_(None), col(DsSyncRun.departement) == scope)
        )
    marks = [m for m in (await session.execute(stmt)).scalars().all() if m is not None]
    return max(marks) if marks else None


async def _fetch(settings: Settings, number: int, since: datetime | None) -> tuple[list[Any], int]:
    try:
        client = ds_client.DsClient(settings)
    except ds_client.DsNotConfigured as exc:
        raise DsNotConfigured() from exc
    nodes: list[Any] = []
    pages = 0
    try:
        async with client:
            async for page in client.dossiers(number, updated_since=since):
                pages += 1
                nodes += page.nodes
    except ds_client.DsGraphQLError as exc:
        raise DsFailed(
            f"{exc.message} La synchronisation est abandonnée, rien n'a été importé.",
            code="DS-GRAPHQL",
        ) from exc
    except ds_client.DsError as exc:
        raise DsFailed(
            f"{exc.message} La synchronisation est abandonnée, rien n'a été importé.",
            code="DS-UNAVAILABLE",
        ) from exc
    return nodes, pages


async def sync(
    session: AsyncSession,
    principal: Principal,
    *,
    number: int,
    settings: Settings,
    storage: DocumentStorage | None = None,
) -> tuple[DsSyncRun, list[Item]]:
    """Import the démarche's dossiers changed since the last sync (DINUM: every département;
    a prefect: its own, the others reported out of scope, R-ACL-1). Idempotent.

    Three steps: read the mapping and the high-water mark (a read-only transaction, ended
    before DS is called), read every page from DS (no transaction open: a DS failure writes
    nothing), then import in one transaction (the request's).
    """
    started = utcnow()
    # The reads before DS's answer never hold SQLite's write lock, and no transaction stays
    # open while DS is called (seconds, a Retry-After): the reads end here, the writes begin
    # once every page is in.
    await read_only_transaction(session)
    demarche = await get_demarche(session, principal, number=number)
    scope = _scope_of(principal)
    since = await _since(session, demarche, scope)
    mapping = Mapping.from_data(demarche.mapping)
    await session.commit()
    nodes, pages = await _fetch(settings, number, since)
    parsed = [parse_node(node, mapping) for node in nodes]
    # A dossier changed while the pages were read may come twice: its last version counts.
    last: dict[str, int] = {r.id: i for i, r in enumerate(parsed) if r.id is not None}
    kept = [
        r.dossier for i, r in enumerate(parsed) if r.dossier is not None and last[r.dossier.id] == i
    ]
    # R-ACL-1: a prefect's sync does not fetch another département's files at all.
    kept = [d for d in kept if scope is None or d.content.departement in (None, scope)]
    fetched = await attachments.fetch_all(kept, settings, storage) if storage is not None else {}
    try:
        return await _import(
            session,
            principal,
            settings,
            storage,
            demarche,
            scope,
            since,
            started,
            nodes,
            pages,
            parsed,
            last,
            fetched,
        )
    finally:
        if storage is not None:  # what the import did not file (a failure, a refusal)
            for staged in fetched.values():
                for one in staged:
                    if one.received is not None:
                        await storage.discard(one.received.staging_key)


async def _import(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    storage: DocumentStorage | None,
    demarche: DsDemarche,
    scope: str | None,
    since: datetime | None,
    started: datetime,
    nodes: list[Any],
    pages: int,
    parsed: list[NodeResult],
    last: dict[str, int],
    fetched: dict[str, list[attachments.Fetched]],
) -> tuple[DsSyncRun, list[Item]]:
    number = demarche.number
    if session.get_bind().dialect.name == "postgresql":
        # Syncs of one démarche write one at a time (SQLite: BEGIN IMMEDIATE already does).
        await session.execute(
            select(DsDemarche.number).where(DsDemarche.number == number).with_for_update()
        )
    items: list[Item] = []
    high_water = since
    low_water: datetime | None = None
    for i, result in enumerate(parsed):
        if result.id is not None and last[result.id] != i:
            continue
        dossier = result.dossier
        item = Item(
            result.number,
            result.id,
            dossier.state.value if dossier else None,
            "refused",
            reasons=[reason_entry(r) for r in result.refusals],
        )
        items.append(item)
        if dossier is None:
            continue
        if high_water is None or dossier.modified_at > high_water:
            high_water = dossier.modified_at
        link = (
            await session.execute(select(DsDossier).where(DsDossier.dossier_id == dossier.id))
        ).scalar_one_or_none()
        if link is None:
            await create_dossier(session, principal, settings, demarche, dossier, item)
        elif scope is not None and link.departement != scope:
            item.reasons.append(reason_entry(out_of_scope(link.departement)))
        else:
            await update_dossier(session, principal, link, dossier, item)
        if storage is not None and dossier.id in fetched:
            project = None
            if item.project_id is not None and item.outcome in ("created", "updated", "unchanged"):
                project = await session.get(Project, item.project_id)
            entries, failed = await attachments.file_all(
                session, principal, project, fetched[dossier.id], settings, storage
            )
            item.attachments = entries
            if failed:
                # Read again at the next sync (DS's updatedSince includes its bound), so that
                # a file that failed is fetched again, the ones already filed recognised.
                retry_from = dossier.modified_at - timedelta(seconds=1)
                low_water = retry_from if low_water is None else min(low_water, retry_from)
    if low_water is not None and high_water is not None:
        high_water = min(high_water, low_water)
    counts = {
        k: sum(1 for it in items if it.outcome == k)
        for k in ("created", "updated", "unchanged", "refused", "flagged")
    }
    run = DsSyncRun(
        demarche_number=number,
        departement=scope,
        actor_subject=principal.subject,
        actor_role=principal.role.value,
        updated_since=since,
        high_water=high_water,
        pages=pages,
        fetched=len(nodes),
        drafts=sum(1 for it in items if it.draft and it.outcome in ("created", "updated")),
        report=[it.as_dict() for it in items],
        created_at=started,  # a mapping changed during the fetch is newer: all read again
        created=counts["created"],
        updated=counts["updated"],
        unchanged=counts["unchanged"],
        refused=counts["refused"],
        flagged=counts["flagged"],
    )
    session.add(run)
    await session.flush()
    await audit.record(  # R-AUDIT-1: the run and its counts (each dossier has its own events)
        session,
        principal,
        object_type="ds_sync",
        object_id=run.id,
        departement=scope,
        action="completed",
        after={"demarche_number": number, "fetched": len(nodes), **counts},
    )
    return run, items


async def list_syncs(
    session: AsyncSession,
    principal: Principal,
    *,
    page: PageParams,
    demarche_number: int | None = None,
    updated_since: datetime | None = None,
) -> tuple[list[DsSyncRun], str | None]:
    """Sync runs, newest last by keyset; a prefect sees its own scope's and national ones."""
    stmt = select(DsSyncRun)
    if principal.role is Role.PREFECT:
        stmt = stmt.where(col(DsSyncRun.departement) == principal.departement)
    if demarche_number is not None:
        stmt = stmt.where(DsSyncRun.demarche_number == demarche_number)
    if updated_since is not None:
        stmt = stmt.where(col(DsSyncRun.created_at) >= updated_since)
    stmt = keyset_page(stmt, DsSyncRun.created_at, DsSyncRun.id, page)
    rows = list((await session.execute(stmt)).scalars().all())
    return split_page(rows, page, lambda r: (r.created_at, r.id))
