"""What mutation testing found unpinned in the candidate rules (issue 7): the field each R-ELIG-1,
R-ELIG-2 and R-REF-1 failure points at, the name comparison of R-REF-1 (typographic apostrophe,
underscore, repeated spaces) and a région's `from_reference`. No database, no app."""

from __future__ import annotations

import pytest

from app.candidates.rules import (
    Identity,
    Verification,
    check_verification_decision,
    normalise_name,
    resolve_identity,
)
from app.core.rules import RuleFailure
from app.reference.catalogue import get_catalogue
from app.reference.kinds import OrganisationKind as K
from tests.support import siret_of
from tests.unit.candidates.test_rules import AMP, BAD_KEY_SIRET, MARSEILLE, UNKNOWN

REF = get_catalogue()
BERRE_L_ETANG = "211300140"  # « Berre-l'Étang » in the reference
REGION_PACA = "231300021"


def pairs(failures: list[RuleFailure]) -> list[tuple[str, str | None]]:
    return [(f.code, f.field) for f in failures]


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        pytest.param(
            Identity(siret=siret_of(UNKNOWN), kind=K.ASSOCIATION, name="X", departement="13"),
            [("R-ELIG-1", "/kind")],
            id="R-ELIG-1-kind",
        ),
        pytest.param(
            Identity(siret=siret_of(UNKNOWN), kind=K.PUBLIC_BODY, name="SPL", departement="13"),
            [("R-ELIG-1", "/public_body_attestation")],
            id="R-ELIG-1-attestation",
        ),
        pytest.param(
            Identity(siret=BAD_KEY_SIRET, kind=K.SYNDICAT, name="S", departement="13"),
            [("R-ELIG-2", "/siret")],
            id="R-ELIG-2-siret",
        ),
        pytest.param(
            Identity(siret=siret_of(UNKNOWN), kind=K.SYNDICAT, name="S", departement="20"),
            [("R-ELIG-2", "/departement")],
            id="R-ELIG-2-departement",
        ),
        pytest.param(
            Identity(siret=siret_of(UNKNOWN), kind=K.COMMUNE),
            [("R-REF-1", "/siret")],
            id="R-REF-1-unknown-siren",
        ),
        pytest.param(
            Identity(siret=siret_of(REGION_PACA), kind=K.REGION, region="99", departement="13"),
            [("R-REF-1", "/region")],
            id="R-REF-1-unknown-region",
        ),
        pytest.param(
            Identity(siret=siret_of(REGION_PACA), kind=K.REGION, region="11", departement="13"),
            [("R-REF-1", "/departement")],
            id="R-REF-1-departement-outside-region",
        ),
        pytest.param(
            Identity(siret=siret_of(MARSEILLE), kind=K.COMMUNE, population=1),
            [("R-REF-1", "/population")],
            id="R-REF-1-contradiction",
        ),
        pytest.param(
            Identity(siret=siret_of(AMP), kind=K.EPCI),
            [("R-REF-1", "/departement")],
            id="R-REF-1-epci-without-seat",
        ),
        pytest.param(
            Identity(siret=siret_of(AMP), kind=K.EPCI, departement="75"),
            [("R-REF-1", "/departement")],
            id="R-REF-1-epci-outside-its-members",
        ),
        pytest.param(
            Identity(siret=siret_of(UNKNOWN), kind=K.SYNDICAT, departement="13"),
            [("required", "/name")],
            id="required-name",
        ),
    ],
)
def test_r_elig_1_r_elig_2_r_ref_1_each_failure_points_at_its_field(
    identity: Identity, expected: list[tuple[str, str]]
) -> None:
    failures = resolve_identity(identity, REF)[1]
    assert pairs(failures) == expected
    # The messages become the problem's French `detail`: a missing one would be a 500.
    assert all(isinstance(f.message, str) and f.message for f in failures)


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("Aix-en-Provence", "aix en provence"),
        ("Berre-l’Étang", "berre l etang"),  # typographic apostrophe
        ("BERRE_L_ETANG", "berre l etang"),
        ("  Aix   en  Provence ", "aix en provence"),
        ("Île", "ile"),
    ],
)
def test_r_ref_1_name_normalisation(name: str, normalised: str) -> None:
    assert normalise_name(name) == normalised


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("Berre-l'Étang", []),
        ("Berre-l’Étang", []),
        ("BERRE L ETANG", []),
        ("Berre_l_Étang", []),
        ("Berre  l'Étang", []),
        ("Berre", [("R-REF-1", "/name")]),
        ("Berre-l'Étang-Nord", [("R-REF-1", "/name")]),
    ],
)
def test_r_ref_1_declared_name_against_the_reference(
    declared: str, expected: list[tuple[str, str]]
) -> None:
    identity = Identity(siret=siret_of(BERRE_L_ETANG), kind=K.COMMUNE, name=declared)
    resolved, failures = resolve_identity(identity, REF)
    assert pairs(failures) == expected
    assert resolved.name == "Berre-l'Étang"


def test_r_ref_1_a_region_is_known_by_its_cog_code() -> None:
    """Its name comes from the COG (`from_reference`), its identity still awaits the prefect."""
    region = Identity(siret=siret_of(REGION_PACA), kind=K.REGION, region="93", departement="13")
    resolved, failures = resolve_identity(region, REF)
    assert failures == []
    assert resolved.from_reference is True
    assert resolved.verification is Verification.TO_VERIFY


@pytest.mark.parametrize(
    ("kind", "decision", "reason", "field"),
    [
        (K.COMMUNE, Verification.VERIFIED, None, "/decision"),
        (K.SYNDICAT, Verification.TO_VERIFY, None, "/decision"),
        (K.SYNDICAT, Verification.REFUSED, " ", "/reason"),
    ],
)
def test_r_ref_2_a_refused_decision_says_why(
    kind: K, decision: Verification, reason: str | None, field: str
) -> None:
    failures = check_verification_decision(kind, decision, reason)
    assert pairs(failures) == [("R-REF-2", field)]
    assert all(isinstance(f.message, str) and f.message for f in failures)
