"""Unit tests for the bundled reference catalogue (R-REF-1), with real values from the data."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import pytest
from stdnum.fr import siren as siren_mod

from app.reference.catalogue import (
    DEFAULT_PATH,
    Catalogue,
    ReferenceEntry,
    get_catalogue,
    load_catalogue,
)


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return get_catalogue()


def test_source_names_package_version_and_licence(cat: Catalogue) -> None:
    src = cat.source
    assert src["package"] == "@etalab/decoupage-administratif"
    assert src["version"] == "6.0.0"
    assert src["licence"] == "Licence Ouverte"
    assert src["licence_url"] == "https://www.etalab.gouv.fr/licence-ouverte-open-licence"
    assert src["code_licence"] == "MIT"


def test_counts(cat: Catalogue) -> None:
    assert cat.counts() == {"communes": 34875, "epci": 1255, "departements": 107, "regions": 18}


def test_marseille(cat: Catalogue) -> None:
    entry = cat.by_siren("211300553")
    assert entry == ReferenceEntry(
        siren="211300553",
        name="Marseille",
        kind="commune",
        epci_type=None,
        departement="13",
        insee_code="13055",
        population=886040,
        departements=("13",),
    )
    assert entry.population is not None and entry.population > 800_000


def test_small_commune(cat: Catalogue) -> None:
    entry = cat.by_siren("212602742")
    assert entry is not None
    assert (entry.name, entry.kind, entry.departement, entry.insee_code) == (
        "Rochefourchat",
        "commune",
        "26",
        "26274",
    )
    assert entry.population == 2


@pytest.mark.parametrize(
    ("siren", "name", "departement", "insee"),
    [
        ("212000046", "Ajaccio", "2A", "2A004"),
        ("219711017", "Les Abymes", "971", "97101"),
        ("200008837", "Mamoudzou", "976", "97611"),
        ("217500016", "Paris", "75", "75056"),
    ],
)
def test_communes_corsica_overseas_paris(
    cat: Catalogue, siren: str, name: str, departement: str, insee: str
) -> None:
    entry = cat.by_siren(siren)
    assert entry is not None
    assert (entry.name, entry.kind, entry.departement, entry.insee_code) == (
        name,
        "commune",
        departement,
        insee,
    )


def test_epci_aix_marseille_provence(cat: Catalogue) -> None:
    entry = cat.by_siren("200054807")
    assert entry is not None
    assert entry.name == "Métropole d'Aix-Marseille-Provence"
    assert entry.kind == "epci"
    assert entry.epci_type == "METRO"
    assert entry.insee_code is None
    assert entry.population == 1922626
    # R-REF-1: members lie in 13, 83 and 84; the package gives no seat, so no default.
    assert entry.departements == ("13", "83", "84")
    assert entry.departement is None


@pytest.mark.parametrize(
    ("siren", "epci_type", "departement", "members"),
    [
        ("200046977", "MET69", "69", ("69",)),  # Métropole de Lyon
        ("200000172", "CC", "74", ("74",)),  # CC Faucigny - Glières
        ("200006682", "CA", None, ("21", "71")),  # CA Beaune, Côte et Sud
        ("200033579", "CU", "62", ("62",)),  # CU d'Arras
    ],
)
def test_r_ref_1_epci_types_seat_and_member_departements(
    cat: Catalogue, siren: str, epci_type: str, departement: str | None, members: tuple[str, ...]
) -> None:
    entry = cat.by_siren(siren)
    assert entry is not None
    assert entry.kind == "epci"
    assert entry.epci_type == epci_type
    assert entry.departement == departement
    assert entry.departements == members


def test_r_ref_1_every_epci_has_its_member_departements(cat: Catalogue) -> None:
    """Every EPCI lists ≥ 1 known member département; its seat, when known, is one of them."""
    multi = 0
    for s in cat.sirens():
        entry = cat.by_siren(s)
        assert entry is not None
        assert entry.departements, entry
        assert list(entry.departements) == sorted(set(entry.departements))
        assert all(cat.is_departement(d) for d in entry.departements), entry
        if entry.departement is not None:
            assert entry.departement in entry.departements
        if entry.kind == "epci" and len(entry.departements) > 1:
            assert entry.departement is None  # the package gives no seat
            multi += 1
    assert multi == 89


@pytest.mark.parametrize("siren", ["000000000", "123456789", "", "21130055", "abcdefghi"])
def test_unknown_siren(cat: Catalogue, siren: str) -> None:
    assert cat.by_siren(siren) is None


def test_siren_spaces_are_ignored(cat: Catalogue) -> None:
    entry = cat.by_siren(" 211 300 553 ")
    assert entry is not None and entry.siren == "211300553"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("2A", True),
        ("2B", True),
        ("20", False),
        ("01", True),
        ("1", False),
        ("95", True),
        ("96", False),
        ("971", True),
        ("974", True),
        ("976", True),
        ("975", True),
        ("977", True),
        ("978", True),
        ("986", True),
        ("987", True),
        ("988", True),
        ("984", False),
        ("989", False),
        ("99", False),
        ("", False),
    ],
)
def test_is_departement(cat: Catalogue, code: str, expected: bool) -> None:
    assert cat.is_departement(code) is expected


def test_departement_and_region_names(cat: Catalogue) -> None:
    assert cat.departement_name("13") == "Bouches-du-Rhône"
    assert cat.departement_name("2A") == "Corse-du-Sud"
    assert cat.departement_name("975") == "Saint-Pierre-et-Miquelon"
    assert cat.departement_name("99") is None
    assert cat.region_of_departement("13") == "93"
    assert cat.region_of_departement("2B") == "94"
    assert cat.region_of_departement("974") == "04"
    assert cat.region_of_departement("975") is None  # COM: no région
    assert cat.region_of_departement("99") is None
    assert cat.region_name("93") == "Provence-Alpes-Côte d'Azur"
    assert cat.region_name("00") is None


@pytest.mark.parametrize(
    ("code", "expected"),
    [("93", True), ("11", True), ("01", True), ("06", True), ("94", True), ("13", False)]
    + [("975", False), ("988", False), ("05", False), ("", False)],
)
def test_is_region(cat: Catalogue, code: str, expected: bool) -> None:
    assert cat.is_region(code) is expected


def test_every_departement_region_is_a_region(cat: Catalogue) -> None:
    for code in ["01", "2A", "2B", "971", "972", "973", "974", "976", "95"]:
        region = cat.region_of_departement(code)
        assert region is not None and cat.is_region(region)


def test_every_siren_passes_luhn(cat: Catalogue) -> None:
    sirens = cat.sirens()
    assert len(sirens) == 34875 + 1255
    invalid = sorted(s for s in sirens if not siren_mod.is_valid(s))
    assert invalid == []


def test_every_commune_departement_is_known(cat: Catalogue) -> None:
    for s in cat.sirens():
        entry = cat.by_siren(s)
        assert entry is not None
        if entry.departement is not None:
            assert cat.is_departement(entry.departement), entry


def test_entry_is_frozen(cat: Catalogue) -> None:
    entry = cat.by_siren("211300553")
    assert entry is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.name = "x"  # type: ignore[misc]


def test_get_catalogue_is_cached() -> None:
    assert get_catalogue() is get_catalogue()


def test_bundled_file_is_deterministic_gzip() -> None:
    raw = DEFAULT_PATH.read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    assert raw[4:8] == b"\x00\x00\x00\x00"  # gzip mtime 0
    assert len(raw) < 1_500_000


def test_load_explicit_path_and_reject_unknown_format(tmp_path: Path) -> None:
    good = tmp_path / "ok.json.gz"
    payload = {
        "format": 2,
        "source": {"package": "p", "version": "0", "licence": "l"},
        "communes": {"211300553": ["13055", "Marseille", "13", 1]},
        "epci": {"200054807": ["AMP", "METRO", 5, None, ["13", "83", "84"]]},
        "departements": {"13": ["Bouches-du-Rhône", "93"]},
        "regions": {"93": "PACA"},
    }
    good.write_bytes(gzip.compress(json.dumps(payload).encode()))
    loaded = load_catalogue(good)
    assert loaded.counts()["communes"] == 1
    assert loaded.source["package"] == "p"
    epci = loaded.by_siren("200054807")
    assert epci is not None and (epci.departement, epci.departements) == (None, ("13", "83", "84"))

    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(gzip.compress(json.dumps({**payload, "format": 99}).encode()))
    with pytest.raises(ValueError):
        load_catalogue(bad)
    previous = tmp_path / "v1.json.gz"  # format 1 had no member départements
    previous.write_bytes(gzip.compress(json.dumps({**payload, "format": 1}).encode()))
    with pytest.raises(ValueError):
        load_catalogue(previous)
