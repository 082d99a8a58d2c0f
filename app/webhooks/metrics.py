"""Scrape-time gauges of the webhook outbox (GET /metrics): how many deliveries wait and how
old the oldest is. Read from the database at each scrape (one aggregate query), so every
worker process answers the same figures."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.webhooks.models import WebhookDelivery
from app.webhooks.service import real_now


async def outbox_gauges(session: AsyncSession) -> list[Metric]:
    depth = GaugeMetricFamily(
        "guichet_webhook_outbox_depth",
        "Livraisons de webhooks en attente (R-HOOK-1), lues à la collecte.",
    )
    oldest = GaugeMetricFamily(
        "guichet_webhook_outbox_oldest_age_seconds",
        "Âge de la plus ancienne livraison en attente (0 sans attente), en secondes.",
    )
    pending, first = (
        await session.execute(
            select(func.count(), func.min(col(WebhookDelivery.created_at))).where(
                col(WebhookDelivery.status) == "pending"
            )
        )
    ).one()
    depth.add_metric([], int(pending))
    age = 0.0 if first is None else max(0.0, (real_now() - first).total_seconds())
    oldest.add_metric([], age)
    return [depth, oldest]
