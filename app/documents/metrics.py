"""Scrape-time gauges of the malware scan (R-DOC-2): what waits, and whether clamd answers."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.documents.models import Document
from app.documents.worker import STATE


async def scan_gauges(session: AsyncSession) -> list[Metric]:
    pending = GaugeMetricFamily(
        "guichet_documents_scan_pending",
        "Documents en attente d'analyse antivirus (R-DOC-2), lus à la collecte.",
    )
    count = (
        await session.execute(select(func.count()).where(col(Document.scan_status) == "pending"))
    ).scalar_one()
    pending.add_metric([], int(count))
    up = GaugeMetricFamily(
        "guichet_documents_scanner_up",
        "1 si clamd a répondu à la dernière analyse de ce processus, 0 sinon ; absent avant.",
    )
    if STATE.up is not None:
        up.add_metric([], 1.0 if STATE.up else 0.0)
    return [pending, up]
