"""Scrape-time gauges of the money: committed and paid per département (GET /metrics).

Read from the envelopes at each scrape (one aggregate query), so every worker answers the same
figures and nothing is stored per process.
"""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy.ext.asyncio import AsyncSession

from app.stats import repository


async def envelope_gauges(session: AsyncSession) -> list[Metric]:
    committed = GaugeMetricFamily(
        "guichet_envelope_committed_euros",
        "Montant engagé par département (euros), lu dans les enveloppes à la collecte.",
        labels=["departement"],
    )
    paid = GaugeMetricFamily(
        "guichet_envelope_paid_euros",
        "Montant payé par département (euros), lu dans les enveloppes à la collecte.",
        labels=["departement"],
    )
    rows = (await session.execute(repository.committed_and_paid_by_departement())).all()
    for departement, _allocated, committed_cents, paid_cents in rows:
        committed.add_metric([str(departement)], int(committed_cents) / 100)
        paid.add_metric([str(departement)], int(paid_cents) / 100)
    return [committed, paid]
