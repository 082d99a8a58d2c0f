"""Kinds of organisation (R-ELIG-1), shared by candidates and the programme's forfaits."""

from __future__ import annotations

from enum import StrEnum


class OrganisationKind(StrEnum):
    """Catégories déclarables ; seules les catégories éligibles (R-ELIG-1) deviennent candidates."""

    COMMUNE = "commune"
    DEPARTEMENT = "departement"
    REGION = "region"
    COLLECTIVITE_OUTRE_MER = "collectivite_outre_mer"
    EPCI = "epci"
    SYNDICAT = "syndicat"
    PUBLIC_BODY = "public_body"
    # Not eligible (R-ELIG-1): declared so that the refusal names the rule instead of a
    # generic validation error.
    ASSOCIATION = "association"
    COMPANY = "company"
    STATE_SERVICE = "state_service"
    OTHER = "other"


ELIGIBLE_KINDS = frozenset(
    {
        OrganisationKind.COMMUNE,
        OrganisationKind.DEPARTEMENT,
        OrganisationKind.REGION,
        OrganisationKind.COLLECTIVITE_OUTRE_MER,
        OrganisationKind.EPCI,
        OrganisationKind.SYNDICAT,
        OrganisationKind.PUBLIC_BODY,
    }
)

# R-REF-1: kinds whose identity comes from the bundled reference data.
REFERENCE_KINDS = frozenset(
    {
        OrganisationKind.COMMUNE,
        OrganisationKind.EPCI,
        OrganisationKind.DEPARTEMENT,
        OrganisationKind.REGION,
    }
)

KIND_LABELS_FR = {
    OrganisationKind.COMMUNE: "commune",
    OrganisationKind.DEPARTEMENT: "département",
    OrganisationKind.REGION: "région",
    OrganisationKind.COLLECTIVITE_OUTRE_MER: "collectivité d'outre-mer",
    OrganisationKind.EPCI: "EPCI (communauté, métropole)",
    OrganisationKind.SYNDICAT: "syndicat (groupement de collectivités)",
    OrganisationKind.PUBLIC_BODY: "personne morale financée par les seules collectivités",
    OrganisationKind.ASSOCIATION: "association",
    OrganisationKind.COMPANY: "entreprise",
    OrganisationKind.STATE_SERVICE: "service de l'État",
    OrganisationKind.OTHER: "autre",
}
