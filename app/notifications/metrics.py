"""Scrape-time gauges of the notification outbox (GET /metrics, R-NOTIF-1): how many e-mails
wait, how old the oldest is, how many are being retried and how many were given up."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.notifications.models import Notification
from app.notifications.service import real_now


async def outbox_gauges(session: AsyncSession) -> list[Metric]:
    depth = GaugeMetricFamily(
        "guichet_notification_outbox_depth", "Courriels en attente d'envoi (R-NOTIF-1)."
    )
    oldest = GaugeMetricFamily(
        "guichet_notification_outbox_oldest_age_seconds",
        "Âge du plus ancien courriel en attente (0 sans attente), en secondes.",
    )
    retrying = GaugeMetricFamily(
        "guichet_notification_retrying",
        "Courriels en attente après au moins un échec (relais indisponible, 4xx).",
    )
    failed = GaugeMetricFamily(
        "guichet_notification_failed", "Courriels abandonnés (refus 5xx ou essais épuisés)."
    )
    count, first = (
        await session.execute(
            select(func.count(), func.min(col(Notification.created_at))).where(
                col(Notification.status) == "pending"
            )
        )
    ).one()
    again, given_up = (
        await session.execute(
            select(
                func.sum(
                    case(
                        (
                            (col(Notification.status) == "pending")
                            & col(Notification.last_error).is_not(None),
                            1,
                        ),
                        else_=0,
                    )
                ),
                func.sum(case((col(Notification.status) == "failed", 1), else_=0)),
            )
        )
    ).one()
    depth.add_metric([], int(count or 0))
    age = 0.0 if first is None else max(0.0, (real_now() - first).total_seconds())
    oldest.add_metric([], age)
    retrying.add_metric([], int(again or 0))
    failed.add_metric([], int(given_up or 0))
    return [depth, oldest, retrying, failed]
