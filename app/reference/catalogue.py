"""Loader for the bundled administrative reference file (rule R-REF-1).

The file ``data/collectivites.json.gz`` is built by ``scripts/build_reference.py`` from the
npm package ``@etalab/decoupage-administratif``. This module is pure: no database, no web.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_PATH",
    "Catalogue",
    "ReferenceEntry",
    "get_catalogue",
    "load_catalogue",
]

DEFAULT_PATH = Path(__file__).parent / "data" / "collectivites.json.gz"
_FORMAT_VERSION = 2


@dataclass(frozen=True)
class ReferenceEntry:
    """A public body known by SIREN in the reference data."""

    siren: str
    name: str
    kind: str  # "commune" | "epci"
    epci_type: str | None  # CC, CA, CU, METRO, MET69 for an EPCI; None for a commune
    departement: str | None  # COG code: the commune's, the EPCI's seat's (None when unknown)
    insee_code: str | None  # COG commune code; None for an EPCI
    population: int | None  # population municipale
    # R-REF-1: the départements it may register in (an EPCI's member communes'; sorted).
    departements: tuple[str, ...] = ()


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


class Catalogue:
    """In-memory, read-only view of the reference data."""

    __slots__ = ("_communes", "_departements", "_epci", "_regions", "_source")

    def __init__(self, payload: dict[str, Any]) -> None:
        """Wrap a decoded payload as written by ``scripts/build_reference.py``."""
        if payload.get("format") != _FORMAT_VERSION:
            raise ValueError(f"unsupported reference format: {payload.get('format')!r}")
        self._source: dict[str, Any] = dict(payload["source"])
        self._communes: dict[str, list[Any]] = payload["communes"]
        self._epci: dict[str, list[Any]] = payload["epci"]
        self._departements: dict[str, list[Any]] = payload["departements"]
        self._regions: dict[str, str] = payload["regions"]

    @property
    def source(self) -> dict[str, Any]:
        """Provenance: package name, version, licence, URL, file digests (a copy)."""
        return dict(self._source)

    def by_siren(self, siren: str) -> ReferenceEntry | None:
        """Return the commune or EPCI with this SIREN (spaces ignored), or None."""
        key = "".join(siren.split())
        row = self._communes.get(key)
        if row is not None:
            insee, name, dep, population = row
            return ReferenceEntry(
                siren=key,
                name=str(name),
                kind="commune",
                epci_type=None,
                departement=_opt_str(dep),
                insee_code=str(insee),
                population=_opt_int(population),
                departements=(str(dep),),
            )
        row = self._epci.get(key)
        if row is not None:
            name, epci_type, population, seat_dep, member_deps = row
            return ReferenceEntry(
                siren=key,
                name=str(name),
                kind="epci",
                epci_type=str(epci_type),
                departement=_opt_str(seat_dep),
                insee_code=None,
                population=_opt_int(population),
                departements=tuple(str(d) for d in member_deps),
            )
        return None

    def is_departement(self, code: str) -> bool:
        """True for a COG département code (e.g. "01", "2A", "974") or a bundled COM code."""
        return code in self._departements

    def departement_codes(self) -> list[str]:
        """Every COG code `is_departement` accepts, sorted."""
        return sorted(self._departements)

    def departement_name(self, code: str) -> str | None:
        """Name of the département (or COM) with this COG code, or None."""
        row = self._departements.get(code)
        return None if row is None else str(row[0])

    def region_of_departement(self, code: str) -> str | None:
        """COG code of the département's région; None if unknown or for a COM."""
        row = self._departements.get(code)
        return None if row is None else _opt_str(row[1])

    def is_region(self, code: str) -> bool:
        """True for one of the 18 COG région codes (e.g. "93", "01")."""
        return code in self._regions

    def region_name(self, code: str) -> str | None:
        """Name of the région with this COG code, or None."""
        return self._regions.get(code)

    def counts(self) -> dict[str, int]:
        """Number of communes, EPCI, départements and régions."""
        return {
            "communes": len(self._communes),
            "epci": len(self._epci),
            "departements": len(self._departements),
            "regions": len(self._regions),
        }

    def sirens(self) -> frozenset[str]:
        """All SIRENs known to the catalogue (communes and EPCI)."""
        return frozenset(self._communes) | frozenset(self._epci)


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read a reference file (default: the bundled one) and return a Catalogue."""
    with gzip.open(path or DEFAULT_PATH, "rb") as handle:
        payload = json.loads(handle.read())
    if not isinstance(payload, dict):
        raise ValueError("reference file does not hold a JSON object")
    return Catalogue(payload)


@lru_cache(maxsize=1)
def get_catalogue() -> Catalogue:
    """Return the bundled catalogue, loaded once per process."""
    return load_catalogue()
