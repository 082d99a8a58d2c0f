#!/usr/bin/env python3
"""Build the bundled administrative reference file (rule R-REF-1).

Reads the unpacked npm package ``@etalab/decoupage-administratif`` and writes
``app/reference/data/collectivites.json.gz``, a compact, deterministic gzip JSON file
(sorted keys, gzip mtime 0: rebuilding from the same package gives identical bytes).

Usage::

    cd "$(mktemp -d)" && npm pack @etalab/decoupage-administratif@6.0.0 && tar xzf *.tgz
    python scripts/build_reference.py --package "$PWD/package"

Stdlib only. Row formats (arrays, not objects, to keep the file small):

- ``communes``: SIREN -> [INSEE code, name, département code, population or null]
- ``epci``: SIREN -> [name, type, population, seat's département code or null,
  [member départements, sorted]]
- ``departements``: COG code -> [name, région code or null]
- ``regions``: COG code -> name
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

FORMAT_VERSION = 2
PACKAGE_NAME = "@etalab/decoupage-administratif"
DEFAULT_OUTPUT = (
    Path(__file__).resolve().parent.parent / "app" / "reference" / "data" / "collectivites.json.gz"
)
DATA_FILES = ("communes.json", "epci.json", "departements.json", "regions.json")

# Collectivités d'outre-mer listed by the package as "départements" (zone "com"). They are
# kept as département-like COG codes; the package also lists them as pseudo-régions (region
# code equal to their own code), which are not régions of the COG: their région is null.
# 984 (Terres australes et antarctiques françaises) and 989 (Clipperton) are left out: they
# are administered directly by the State, have no population and no local authority that
# could apply to the window.
EXCLUDED_DEPARTEMENTS = frozenset({"984", "989"})

# SIRENs failing the Luhn check would be excluded here. With package 6.0.0 every commune and
# EPCI SIREN passes, so the set is empty.
EXCLUDED_SIRENS: frozenset[str] = frozenset()

_SIREN_RE = re.compile(r"^\d{9}$")


def luhn_ok(number: str) -> bool:
    """Return True if ``number`` passes the Luhn checksum (as SIREN numbers must)."""
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def valid_siren(siren: str) -> bool:
    """Return True for a 9-digit, Luhn-valid SIREN not explicitly excluded."""
    return bool(_SIREN_RE.match(siren)) and luhn_ok(siren) and siren not in EXCLUDED_SIRENS


def read_json(path: Path) -> Any:
    """Read a UTF-8 JSON file."""
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def data_licence(readme: str) -> tuple[str, str]:
    """Extract the data licence name and URL from the package README's "Licence" section."""
    match = re.search(r"Donn[ée]es\s*:\s*\[([^\]]+)\]\(([^)]+)\)", readme)
    if match is None:
        raise SystemExit("could not find the data licence line ('Données : [...](...)') in README")
    return match.group(1).strip(), match.group(2).strip()


def build(package_dir: Path) -> dict[str, Any]:
    """Return the compact reference payload built from the unpacked package."""
    meta = read_json(package_dir / "package.json")
    if meta.get("name") != PACKAGE_NAME:
        raise SystemExit(f"{package_dir} is not {PACKAGE_NAME} (name={meta.get('name')!r})")
    version = str(meta["version"])
    licence_name, licence_url = data_licence(
        (package_dir / "README.md").read_text(encoding="utf-8")
    )
    data_dir = package_dir / "data"
    digests = {
        name: hashlib.sha256((data_dir / name).read_bytes()).hexdigest() for name in DATA_FILES
    }

    raw_regions: list[dict[str, Any]] = read_json(data_dir / "regions.json")
    raw_departements: list[dict[str, Any]] = read_json(data_dir / "departements.json")
    raw_communes: list[dict[str, Any]] = read_json(data_dir / "communes.json")
    raw_epci: list[dict[str, Any]] = read_json(data_dir / "epci.json")

    # Régions: only real COG régions (zone metro/drom), not the COM pseudo-régions.
    regions = {r["code"]: r["nom"] for r in raw_regions if r.get("zone") != "com"}

    departements: dict[str, list[Any]] = {}
    for dep in raw_departements:
        code = dep["code"]
        if code in EXCLUDED_DEPARTEMENTS:
            continue
        region = dep.get("region")
        departements[code] = [dep["nom"], region if region in regions else None]

    communes: dict[str, list[Any]] = {}
    commune_dep: dict[str, str] = {}
    skipped_no_siren: list[str] = []
    rejected: list[str] = []
    for com in raw_communes:
        if com.get("type") != "commune-actuelle":
            continue
        commune_dep[com["code"]] = com["departement"]
        siren = com.get("siren")
        if siren is None:
            skipped_no_siren.append(com["code"])
            continue
        if not valid_siren(siren):
            rejected.append(siren)
            continue
        if siren in communes:
            raise SystemExit(f"duplicate commune SIREN {siren}")
        population = com.get("population")
        communes[siren] = [
            com["code"],
            com["nom"],
            com["departement"],
            int(population) if population is not None else None,
        ]

    epci: dict[str, list[Any]] = {}
    multi_dep = 0
    for group in raw_epci:
        siren = group["code"]
        if not valid_siren(siren):
            rejected.append(siren)
            continue
        if siren in communes or siren in epci:
            raise SystemExit(f"duplicate SIREN {siren}")
        # R-REF-1: an EPCI registers in one of its member communes' départements, its seat's by
        # default. The package carries no seat (members are ordered by population, not seat
        # first), so the seat's département is known only when all members share one.
        member_deps = sorted({commune_dep[m["code"]] for m in group["membres"]})
        if not member_deps:
            raise SystemExit(f"EPCI {siren} has no member commune")
        seat_dep = member_deps[0] if len(member_deps) == 1 else None
        if seat_dep is None:
            multi_dep += 1
        epci[siren] = [
            group["nom"],
            group["type"],
            int(group["populationMunicipale"]),
            seat_dep,
            member_deps,
        ]

    sys.stderr.write(
        f"{PACKAGE_NAME}@{version}: {len(communes)} communes, {len(epci)} EPCI "
        f"({multi_dep} without a single département), {len(departements)} départements, "
        f"{len(regions)} régions; {len(skipped_no_siren)} current communes without SIREN "
        f"skipped; rejected SIRENs: {sorted(rejected) or 'none'}\n"
    )
    return {
        "format": FORMAT_VERSION,
        "source": {
            "package": PACKAGE_NAME,
            "version": version,
            "licence": licence_name,
            "licence_url": licence_url,
            "code_licence": str(meta.get("license", "")),
            "url": f"https://www.npmjs.com/package/{PACKAGE_NAME}/v/{version}",
            "tarball": (
                f"https://registry.npmjs.org/{PACKAGE_NAME}/-/"
                f"{PACKAGE_NAME.split('/')[1]}-{version}.tgz"
            ),
            "sha256": digests,
            "population": "INSEE population municipale (communes); DGCL total_pop_mun (EPCI)",
        },
        "communes": communes,
        "epci": epci,
        "departements": departements,
        "regions": regions,
    }


def write_gzip_json(payload: dict[str, Any], output: Path) -> bytes:
    """Serialise ``payload`` deterministically and write it gzip-compressed to ``output``."""
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    data = buffer.getvalue()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)
    return data


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--package", required=True, type=Path, help="unpacked npm package directory"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="output .json.gz")
    args = parser.parse_args(argv)
    data = write_gzip_json(build(args.package), args.output)
    digest = hashlib.sha256(data).hexdigest()
    sys.stderr.write(f"wrote {args.output} ({len(data)} bytes, sha256 {digest})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
