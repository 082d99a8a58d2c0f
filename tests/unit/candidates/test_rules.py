"""Pure rules of candidates: R-ELIG-1, R-ELIG-2, R-REF-1 (no database, no app)."""

from __future__ import annotations

import pytest

from app.candidates.rules import Identity, normalise_name, resolve_identity
from app.reference.catalogue import get_catalogue
from app.reference.kinds import ELIGIBLE_KINDS, OrganisationKind as K
from tests.support import siret_of

REF = get_catalogue()
MARSEILLE = "211300553"
UNKNOWN = "498720135"
_GOOD = siret_of(MARSEILLE)
BAD_KEY_SIRET = _GOOD[:-1] + str((int(_GOOD[-1]) + 1) % 10)
LA_POSTE_SIRET = "35600000000048"  # La Poste's exception: digits sum to a multiple of 5


def codes(identity: Identity) -> list[str]:
    return [f.code for f in resolve_identity(identity, REF)[1]]


@pytest.mark.parametrize("kind", sorted(ELIGIBLE_KINDS - {K.COMMUNE, K.EPCI}))
def test_r_elig_1_eligible_kinds_pass(kind: K) -> None:
    identity = Identity(
        siret=siret_of(UNKNOWN),
        kind=kind,
        name="Organisation",
        departement="13",
        region="93",
        public_body_attestation=True,
    )
    assert codes(identity) == []


@pytest.mark.parametrize("kind", sorted(set(K) - ELIGIBLE_KINDS))
def test_r_elig_1_other_kinds_fail(kind: K) -> None:
    identity = Identity(siret=siret_of(UNKNOWN), kind=kind, name="X", departement="13")
    assert codes(identity) == ["R-ELIG-1"]


@pytest.mark.parametrize(("attested", "expected"), [(True, []), (False, ["R-ELIG-1"])])
def test_r_elig_1_public_body_attestation(attested: bool, expected: list[str]) -> None:
    identity = Identity(
        siret=siret_of(UNKNOWN),
        kind=K.PUBLIC_BODY,
        name="SPL",
        departement="13",
        public_body_attestation=attested,
    )
    assert codes(identity) == expected


@pytest.mark.parametrize(
    ("siret", "valid"),
    [
        (siret_of(MARSEILLE), True),
        (BAD_KEY_SIRET, False),
        (LA_POSTE_SIRET, True),
        ("35600000000049", False),
    ],
)
def test_r_elig_2_siret_checksum_with_la_poste_exception(siret: str, valid: bool) -> None:
    identity = Identity(siret=siret, kind=K.SYNDICAT, name="S", departement="13")
    assert ("R-ELIG-2" not in codes(identity)) is valid


@pytest.mark.parametrize(
    ("departement", "valid"),
    [
        ("13", True),
        ("2A", True),
        ("2B", True),
        ("974", True),
        ("976", True),
        ("975", True),
        ("20", False),
        ("96", False),
        ("00", False),
        ("984", False),
    ],
)
def test_r_elig_2_departement_must_be_a_cog_code(departement: str, valid: bool) -> None:
    identity = Identity(siret=siret_of(UNKNOWN), kind=K.SYNDICAT, name="S", departement=departement)
    assert ("R-ELIG-2" not in codes(identity)) is valid


def test_r_ref_1_commune_identity_comes_from_the_reference() -> None:
    resolved, failures = resolve_identity(Identity(siret=siret_of(MARSEILLE), kind=K.COMMUNE), REF)
    assert failures == []
    assert (resolved.name, resolved.departement, resolved.population, resolved.commune_insee) == (
        "Marseille",
        "13",
        886040,
        "13055",
    )
    assert resolved.from_reference


@pytest.mark.parametrize(
    ("declared", "field"),
    [
        ({"population": 886041}, "/population"),
        ({"departement": "84"}, "/departement"),
        ({"commune_insee": "13056"}, "/commune_insee"),
        ({"name": "Aix-en-Provence"}, "/name"),
    ],
)
def test_r_ref_1_contradictions_are_refused_field_by_field(declared: dict, field: str) -> None:
    identity = Identity(siret=siret_of(MARSEILLE), kind=K.COMMUNE, **declared)
    _, failures = resolve_identity(identity, REF)
    assert [(f.code, f.field) for f in failures] == [("R-REF-1", field)]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Marseille", "MARSEILLE"),
        ("Aix-en-Provence", "aix en provence"),
        ("L'Île-Rousse", "l ile rousse"),
    ],
)
def test_name_comparison_ignores_case_accents_and_hyphens(a: str, b: str) -> None:
    assert normalise_name(a) == normalise_name(b)


def test_r_ref_1_unknown_commune_siren_is_refused() -> None:
    assert codes(Identity(siret=siret_of(UNKNOWN), kind=K.COMMUNE)) == ["R-REF-1"]


def test_r_ref_1_epci_over_several_departements_needs_the_seat_departement() -> None:
    amp = siret_of("200054807")
    assert codes(Identity(siret=amp, kind=K.EPCI)) == ["R-REF-1"]
    resolved, failures = resolve_identity(Identity(siret=amp, kind=K.EPCI, departement="13"), REF)
    assert failures == [] and resolved.epci_type == "METRO"


def test_r_ref_1_region_and_departement_by_cog_code() -> None:
    region = Identity(siret=siret_of("231300021"), kind=K.REGION, region="93", departement="13")
    resolved, failures = resolve_identity(region, REF)
    assert failures == [] and resolved.name == "Région Provence-Alpes-Côte d'Azur"
    assert codes(
        Identity(siret=siret_of("231300021"), kind=K.REGION, region="11", departement="13")
    ) == ["R-REF-1"]
    assert codes(
        Identity(siret=siret_of("231300021"), kind=K.REGION, region="99", departement="13")
    ) == ["R-REF-1"]
    dep = resolve_identity(
        Identity(siret=siret_of("221300015"), kind=K.DEPARTEMENT, departement="13"), REF
    )
    assert dep[1] == [] and dep[0].name == "Département Bouches-du-Rhône"


@pytest.mark.parametrize(
    ("identity", "field"),
    [
        (Identity(siret=siret_of(UNKNOWN), kind=K.SYNDICAT, departement="13"), "/name"),
        (Identity(siret=siret_of(UNKNOWN), kind=K.SYNDICAT, name="S"), "/departement"),
        (Identity(siret=siret_of(UNKNOWN), kind=K.REGION, departement="13"), "/region"),
    ],
)
def test_required_fields_per_kind(identity: Identity, field: str) -> None:
    _, failures = resolve_identity(identity, REF)
    assert [(f.code, f.field) for f in failures] == [("required", field)]
