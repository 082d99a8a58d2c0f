"""Pure eligibility and identity rules of a candidate (R-ELIG-1, R-ELIG-2, R-REF-1, R-REF-2)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from stdnum.fr import siret as siret_number

from app.core.rules import RuleFailure
from app.reference.catalogue import ReferenceEntry
from app.reference.kinds import ELIGIBLE_KINDS, KIND_LABELS_FR, OrganisationKind


class ReferenceData(Protocol):
    def by_siren(self, siren: str) -> ReferenceEntry | None: ...
    def is_departement(self, code: str) -> bool: ...
    def departement_name(self, code: str) -> str | None: ...
    def is_region(self, code: str) -> bool: ...
    def region_name(self, code: str) -> str | None: ...
    def region_of_departement(self, code: str) -> str | None: ...


class Verification(StrEnum):
    """R-REF-2 : l'identité du candidat est-elle confirmée (par le référentiel ou le préfet) ?"""

    TO_VERIFY = "to_verify"
    VERIFIED = "verified"
    REFUSED = "refused"


# R-REF-2: the kinds whose identity the reference confirms by SIREN (verified at registration).
CONFIRMED_BY_REFERENCE = frozenset({OrganisationKind.COMMUNE, OrganisationKind.EPCI})


@dataclass(frozen=True)
class Identity:
    """What a candidate declares about itself, then what the service keeps."""

    siret: str
    kind: OrganisationKind
    name: str | None = None
    departement: str | None = None
    region: str | None = None
    commune_insee: str | None = None
    population: int | None = None
    epci_type: str | None = None
    public_body_attestation: bool = False
    from_reference: bool = False

    @property
    def siren(self) -> str:
        return self.siret[:9]

    @property
    def verification(self) -> Verification:
        """R-REF-2: communes and EPCI found in the reference are verified; others to verify."""
        if self.kind in CONFIRMED_BY_REFERENCE and self.from_reference:
            return Verification.VERIFIED
        return Verification.TO_VERIFY

    @property
    def territory(self) -> str | None:
        """R-REF-1: the territory a département or région stands for (one candidate each)."""
        if self.kind is OrganisationKind.DEPARTEMENT and self.departement is not None:
            return f"departement:{self.departement}"
        if self.kind is OrganisationKind.REGION and self.region is not None:
            return f"region:{self.region}"
        return None


def normalise_name(name: str) -> str:
    """Compare names without case, accents, hyphens or article spacing differences."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    for sep in ("-", "'", "’", "_"):
        bare = bare.replace(sep, " ")
    return " ".join(bare.split())


def check_kind(identity: Identity) -> list[RuleFailure]:
    """R-ELIG-1: only local authorities, their groupings and bodies they alone fund."""
    if identity.kind not in ELIGIBLE_KINDS:
        label = KIND_LABELS_FR[identity.kind]
        return [
            RuleFailure(
                "R-ELIG-1",
                f"Catégorie « {label} » non éligible : le guichet est réservé aux collectivités, "
                "à leurs groupements et aux personnes morales financées par les seules "
                "collectivités.",
                "/kind",
            )
        ]
    if identity.kind is OrganisationKind.PUBLIC_BODY and not identity.public_body_attestation:
        return [
            RuleFailure(
                "R-ELIG-1",
                "Une personne morale doit attester que ses financements ne proviennent que de "
                "collectivités locales (public_body_attestation).",
                "/public_body_attestation",
            )
        ]
    return []


def check_numbers(identity: Identity, ref: ReferenceData) -> list[RuleFailure]:
    """R-ELIG-2: a valid SIRET (Luhn, La Poste's exception) and a real COG département."""
    failures = []
    if not siret_number.is_valid(identity.siret) or len(identity.siret) != 14:
        failures.append(
            RuleFailure("R-ELIG-2", "SIRET invalide (clé de contrôle incorrecte).", "/siret")
        )
    if identity.departement is not None and not ref.is_departement(identity.departement):
        failures.append(
            RuleFailure(
                "R-ELIG-2",
                f"Département « {identity.departement} » inconnu du code officiel géographique.",
                "/departement",
            )
        )
    return failures


def _contradiction(field: str, declared: object, reference: object) -> RuleFailure:
    return RuleFailure(
        "R-REF-1",
        f"Valeur déclarée « {declared} » contraire au référentiel administratif (« {reference} »).",
        f"/{field}",
    )


def check_kind_against_reference(identity: Identity, ref: ReferenceData) -> list[RuleFailure]:
    """R-REF-1: a SIREN the reference knows as a commune or an EPCI has that kind only."""
    entry = ref.by_siren(identity.siren)
    if entry is None or entry.kind == identity.kind.value:
        return []
    known = KIND_LABELS_FR[OrganisationKind(entry.kind)]
    return [
        RuleFailure(
            "R-REF-1",
            f"Le SIREN {identity.siren} est celui de « {entry.name} », {known} d'après le "
            f"référentiel administratif : il ne peut être enregistré que dans cette catégorie, "
            f"pas comme {KIND_LABELS_FR[identity.kind]}.",
            "/kind",
        )
    ]


def _departement_of_reference(
    declared: str | None, entry: ReferenceEntry
) -> tuple[str | None, list[RuleFailure]]:
    """R-REF-1: the reference's département; an EPCI may declare any member's, else its seat's."""
    members = entry.departements
    if declared is None:
        if entry.departement is not None:
            return entry.departement, []
        return None, [
            RuleFailure(
                "R-REF-1",
                f"Cet EPCI s'étend sur plusieurs départements ({', '.join(members)}) et le "
                "référentiel ne donne pas son siège : précisez le département de son siège.",
                "/departement",
            )
        ]
    if declared in members:
        return declared, []
    if len(members) == 1:
        return members[0], [_contradiction("departement", declared, members[0])]
    return None, [
        RuleFailure(
            "R-REF-1",
            f"Département « {declared} » contraire au référentiel administratif : cet EPCI "
            f"ne s'étend que sur {', '.join(members)}.",
            "/departement",
        )
    ]


def _from_siren_reference(
    identity: Identity, ref: ReferenceData
) -> tuple[Identity, list[RuleFailure]]:
    entry = ref.by_siren(identity.siren)
    if entry is None:
        label = KIND_LABELS_FR[identity.kind]
        return identity, [
            RuleFailure(
                "R-REF-1",
                f"SIREN {identity.siren} inconnu dans le référentiel : une {label} est "
                "enregistrée par le SIREN que lui donne le découpage administratif.",
                "/siret",
            )
        ]
    failures = []
    if identity.name is not None and normalise_name(identity.name) != normalise_name(entry.name):
        failures.append(_contradiction("name", identity.name, entry.name))
    if identity.population is not None and identity.population != entry.population:
        failures.append(_contradiction("population", identity.population, entry.population))
    if identity.commune_insee is not None and identity.commune_insee != entry.insee_code:
        failures.append(_contradiction("commune_insee", identity.commune_insee, entry.insee_code))
    departement, dep_failures = _departement_of_reference(identity.departement, entry)
    failures += dep_failures
    resolved = replace(
        identity,
        name=entry.name,
        population=entry.population,
        commune_insee=entry.insee_code,
        departement=departement,
        epci_type=entry.epci_type,
        from_reference=True,
    )
    return resolved, failures


def _required(field: str) -> RuleFailure:
    return RuleFailure(
        "required", f"Le champ « {field} » est obligatoire pour cette catégorie.", f"/{field}"
    )


def resolve_identity(identity: Identity, ref: ReferenceData) -> tuple[Identity, list[RuleFailure]]:
    """Check a declared identity and fill what the reference data knows (R-ELIG-1/2, R-REF-1).

    Returns the identity to keep and every failed rule (empty when it may be registered).
    """
    failures = check_kind(identity)
    if identity.kind not in ELIGIBLE_KINDS:
        return identity, failures
    failures += check_numbers(identity, ref)
    siret_ok = not any(f.field == "/siret" for f in failures)
    if siret_ok and (kind_failures := check_kind_against_reference(identity, ref)):
        return identity, failures + kind_failures
    kind = identity.kind
    if kind in CONFIRMED_BY_REFERENCE:
        if not siret_ok:
            return identity, failures
        resolved, ref_failures = _from_siren_reference(identity, ref)
        return resolved, failures + ref_failures
    departement = identity.departement
    if departement is None:
        return identity, [*failures, _required("departement")]
    if not ref.is_departement(departement):
        return identity, failures  # already reported by check_numbers
    if kind is OrganisationKind.DEPARTEMENT:
        # R-REF-1: départements are known by COG code only; their SIREN is kept as declared.
        name = identity.name or f"Département {ref.departement_name(departement)}"
        return replace(identity, name=name, from_reference=True), failures
    if kind is OrganisationKind.REGION:
        region = identity.region
        if region is None:
            return identity, [*failures, _required("region")]
        if not ref.is_region(region):
            return identity, [
                *failures,
                RuleFailure(
                    "R-REF-1",
                    f"Région « {region} » inconnue du code officiel géographique.",
                    "/region",
                ),
            ]
        if ref.region_of_departement(departement) != region:
            failures.append(
                RuleFailure(
                    "R-REF-1",
                    f"Le département {departement} n'appartient pas à la région {region}.",
                    "/departement",
                )
            )
        name = identity.name or f"Région {ref.region_name(region)}"
        return replace(identity, name=name, from_reference=True), failures
    if not identity.name:
        failures.append(_required("name"))
    return identity, failures


def check_verification_decision(
    kind: OrganisationKind, decision: Verification, reason: str | None
) -> list[RuleFailure]:
    """R-REF-2: the prefect verifies what the reference cannot confirm; a refusal is motivated."""
    if kind in CONFIRMED_BY_REFERENCE:
        return [
            RuleFailure(
                "R-REF-2",
                "L'identité d'une commune ou d'un EPCI est confirmée par le référentiel "
                "administratif : elle ne relève pas de la vérification du préfet.",
                "/decision",
            )
        ]
    if decision is Verification.TO_VERIFY:
        return [RuleFailure("R-REF-2", "La décision est « verified » ou « refused ».", "/decision")]
    if decision is Verification.REFUSED and (reason is None or not reason.strip()):
        return [
            RuleFailure(
                "R-REF-2",
                "Un refus de vérification doit être motivé (champ « reason »).",
                "/reason",
            )
        ]
    return []


def verification_after_update(
    kind: OrganisationKind, current: Verification, *, identity_changed: bool
) -> Verification:
    """R-REF-2: what the prefect checked is checked again when the declared identity changes."""
    if kind in CONFIRMED_BY_REFERENCE or not identity_changed:
        return current
    return Verification.TO_VERIFY
