"""Pure rules of candidates: R-ELIG-1, R-ELIG-2, R-REF-1, R-REF-2 (no database, no app)."""

from __future__ import annotations

import pytest

from app.candidates.rules import (
    Identity,
    Verification as V,
    check_verification_decision,
    normalise_name,
    resolve_identity,
    verification_after_update,
)
from app.reference.catalogue import get_catalogue
from app.reference.kinds import ELIGIBLE_KINDS, OrganisationKind as K
from tests.support import siret_of

REF = get_catalogue()
MARSEILLE = "211300553"
AUREILLE = "211300066"
AMP = "200054807"  # Métropole d'Aix-Marseille-Provence: members in 13, 83, 84; no seat known
CA_TERRE_DE_PROVENCE = "200035087"  # members all in the 13
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
    amp = siret_of(AMP)
    assert codes(Identity(siret=amp, kind=K.EPCI)) == ["R-REF-1"]
    resolved, failures = resolve_identity(Identity(siret=amp, kind=K.EPCI, departement="13"), REF)
    assert failures == [] and resolved.epci_type == "METRO"


@pytest.mark.parametrize(
    ("siren", "declared", "departement", "failed_field"),
    [
        (AMP, "13", "13", None),
        (AMP, "83", "83", None),
        (AMP, "84", "84", None),
        (AMP, "75", None, "/departement"),  # a métropole of the 13 declaring 75
        (AMP, "04", None, "/departement"),
        (AMP, None, None, "/departement"),  # no seat in the reference: it must declare
        (CA_TERRE_DE_PROVENCE, None, "13", None),  # the seat's by default
        (CA_TERRE_DE_PROVENCE, "13", "13", None),
        (CA_TERRE_DE_PROVENCE, "84", "13", "/departement"),
        (MARSEILLE, "84", "13", "/departement"),
    ],
)
def test_r_ref_1_registers_in_a_member_departement_only(
    siren: str, declared: str | None, departement: str | None, failed_field: str | None
) -> None:
    kind = K.COMMUNE if siren == MARSEILLE else K.EPCI
    resolved, failures = resolve_identity(
        Identity(siret=siret_of(siren), kind=kind, departement=declared), REF
    )
    assert [(f.code, f.field) for f in failures] == (
        [] if failed_field is None else [("R-REF-1", failed_field)]
    )
    if failed_field is None:
        assert resolved.departement == departement


@pytest.mark.parametrize("kind", sorted(ELIGIBLE_KINDS - {K.COMMUNE}))
def test_r_ref_1_a_commune_siren_has_the_commune_kind_only(kind: K) -> None:
    identity = Identity(
        siret=siret_of(AUREILLE),
        kind=kind,
        name="Aureille",
        departement="13",
        region="93",
        public_body_attestation=True,
    )
    _, failures = resolve_identity(identity, REF)
    assert [(f.code, f.field) for f in failures] == [("R-REF-1", "/kind")]
    assert "Aureille" in failures[0].message


@pytest.mark.parametrize("kind", sorted(ELIGIBLE_KINDS - {K.EPCI}))
def test_r_ref_1_an_epci_siren_has_the_epci_kind_only(kind: K) -> None:
    identity = Identity(
        siret=siret_of(AMP),
        kind=kind,
        name="AMP",
        departement="13",
        region="93",
        public_body_attestation=True,
    )
    assert codes(identity) == ["R-REF-1"]


def test_r_ref_1_an_invalid_siret_is_not_looked_up() -> None:
    bad = siret_of(AUREILLE)[:-1] + str((int(siret_of(AUREILLE)[-1]) + 1) % 10)
    assert codes(Identity(siret=bad, kind=K.SYNDICAT, name="S", departement="13")) == ["R-ELIG-2"]


@pytest.mark.parametrize(
    ("identity", "territory"),
    [
        (Identity(siret="x", kind=K.DEPARTEMENT, departement="13"), "departement:13"),
        (Identity(siret="x", kind=K.DEPARTEMENT, departement="2A"), "departement:2A"),
        (Identity(siret="x", kind=K.REGION, departement="13", region="93"), "region:93"),
        (Identity(siret="x", kind=K.REGION, departement="13"), None),
        (Identity(siret="x", kind=K.COMMUNE, departement="13"), None),
        (Identity(siret="x", kind=K.SYNDICAT, departement="13", region="93"), None),
        (Identity(siret="x", kind=K.COLLECTIVITE_OUTRE_MER, departement="975"), None),
    ],
)
def test_r_ref_1_one_territory_per_departement_and_region(
    identity: Identity, territory: str | None
) -> None:
    assert identity.territory == territory


@pytest.mark.parametrize(
    ("kind", "from_reference", "expected"),
    [
        (K.COMMUNE, True, V.VERIFIED),
        (K.EPCI, True, V.VERIFIED),
        (K.COMMUNE, False, V.TO_VERIFY),
        (K.DEPARTEMENT, True, V.TO_VERIFY),
        (K.REGION, True, V.TO_VERIFY),
        (K.COLLECTIVITE_OUTRE_MER, False, V.TO_VERIFY),
        (K.SYNDICAT, False, V.TO_VERIFY),
        (K.PUBLIC_BODY, False, V.TO_VERIFY),
    ],
)
def test_r_ref_2_verification_at_registration(kind: K, from_reference: bool, expected: V) -> None:
    identity = Identity(siret="x", kind=kind, from_reference=from_reference)
    assert identity.verification is expected


def test_r_ref_2_resolved_communes_and_epci_are_verified_others_to_verify() -> None:
    commune, _ = resolve_identity(Identity(siret=siret_of(AUREILLE), kind=K.COMMUNE), REF)
    assert commune.verification is V.VERIFIED
    dep, _ = resolve_identity(
        Identity(siret=siret_of("221300015"), kind=K.DEPARTEMENT, departement="13"), REF
    )
    assert dep.from_reference and dep.verification is V.TO_VERIFY


@pytest.mark.parametrize(
    ("kind", "decision", "reason", "expected"),
    [
        (K.SYNDICAT, V.VERIFIED, None, []),
        (K.SYNDICAT, V.VERIFIED, "Statuts reçus.", []),
        (K.DEPARTEMENT, V.REFUSED, "Délibération manquante.", []),
        (K.PUBLIC_BODY, V.REFUSED, "x", []),
        (K.SYNDICAT, V.REFUSED, None, [("R-REF-2", "/reason")]),
        (K.SYNDICAT, V.REFUSED, "", [("R-REF-2", "/reason")]),
        (K.SYNDICAT, V.REFUSED, " \t\n", [("R-REF-2", "/reason")]),
        (K.SYNDICAT, V.TO_VERIFY, "x", [("R-REF-2", "/decision")]),
        (K.COMMUNE, V.VERIFIED, None, [("R-REF-2", "/decision")]),
        (K.EPCI, V.REFUSED, "x", [("R-REF-2", "/decision")]),
    ],
)
def test_r_ref_2_verification_decision(
    kind: K, decision: V, reason: str | None, expected: list[tuple[str, str]]
) -> None:
    failures = check_verification_decision(kind, decision, reason)
    assert [(f.code, f.field) for f in failures] == expected


@pytest.mark.parametrize(
    ("kind", "current", "changed", "expected"),
    [
        (K.SYNDICAT, V.VERIFIED, True, V.TO_VERIFY),
        (K.SYNDICAT, V.REFUSED, True, V.TO_VERIFY),
        (K.SYNDICAT, V.VERIFIED, False, V.VERIFIED),
        (K.SYNDICAT, V.REFUSED, False, V.REFUSED),
        (K.COMMUNE, V.VERIFIED, True, V.VERIFIED),
        (K.EPCI, V.VERIFIED, True, V.VERIFIED),
    ],
)
def test_r_ref_2_a_changed_identity_is_verified_again(
    kind: K, current: V, changed: bool, expected: V
) -> None:
    assert verification_after_update(kind, current, identity_changed=changed) is expected


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
