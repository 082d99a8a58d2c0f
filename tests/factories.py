"""Async builders: add, flush and return, creating parents on demand."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from app.reference.catalogue import get_catalogue
from tests.support import siret_of


async def make_candidate(session: AsyncSession, *, siren: str, **overrides: Any) -> Candidate:
    """A candidate; communes and EPCI take their identity from the reference data."""
    entry = get_catalogue().by_siren(siren)
    values: dict[str, Any] = {
        "siret": siret_of(siren),
        "siren": siren,
        "name": entry.name if entry else f"Organisation {siren}",
        "kind": entry.kind if entry else "syndicat",
        "departement": (entry.departement if entry else None) or "13",
        "commune_insee": entry.insee_code if entry else None,
        "population": entry.population if entry else None,
        "epci_type": entry.epci_type if entry else None,
        "from_reference": entry is not None,
        "created_by": "factory",
    }
    values.update(overrides)
    candidate = Candidate(**values)
    session.add(candidate)
    await session.flush()
    return candidate
