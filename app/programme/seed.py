"""The FITN7 axe 3 call as published (spec/seed-fitn7-axe3.txt), seeded at first start."""

from __future__ import annotations

from datetime import date
from typing import Any

from app.reference.kinds import OrganisationKind as K

PROGRAMME_CODE = "FITN7-AXE3"

# R-EVAL-1: « Quels critères de sélection ? » (general) and the grid of each strand.
GENERAL_CRITERIA: list[dict[str, Any]] = [
    {"code": "pertinence_impact", "label": "Pertinence et impact du projet", "weight": 30},
    {
        "code": "beneficiaires_replicabilite",
        "label": "Nombre d'agents ou d'usagers bénéficiaires, réplicabilité",
        "weight": 25,
    },
    {
        "code": "duree_iterations_usagers",
        "label": "Durée du projet, fréquence des itérations, orientation usager",
        "weight": 20,
    },
    {
        "code": "equipe_organisation",
        "label": "Composition de l'équipe projet et organisation du projet",
        "weight": 25,
    },
]

STRANDS: list[dict[str, Any]] = [
    {
        "code": "3a",
        "title": "Accompagnement par un expert du numérique pour définir des projets de "
        "transformation numérique ou accompagner leur mise en œuvre",
        "description": None,
        "funding_cap_rate_bps": None,
        "forfaits": True,  # R-CAP-3: the forfait schedule caps this strand's grants
        "advisors": [],
        "criteria": [
            {"code": "impact", "label": "Impact du projet", "weight": 40},
            {
                "code": "besoin_mise_a_niveau",
                "label": "Besoin ressenti de mise à niveau numérique",
                "weight": 35,
            },
            {
                "code": "localisation_prestataires",
                "label": "Localisation des entreprises prestataires (dans les territoires)",
                "weight": 25,
            },
        ],
    },
    {
        "code": "3b",
        "title": "Formation au numérique des agents et appui à la structuration interne du "
        "développement des compétences numériques",
        "description": None,
        "funding_cap_rate_bps": None,
        "forfaits": False,
        "advisors": ["anct"],  # R-EVAL-3: ANCT advises on the training strand
        "criteria": [
            {"code": "agents_impactes", "label": "Nombre d'agents impactés", "weight": 40},
            {"code": "niveau_portage", "label": "Niveau de portage du projet", "weight": 30},
            {
                "code": "au_dela_outil_metier",
                "label": "Projet dépassant l'accompagnement à un seul outil métier",
                "weight": 30,
            },
        ],
    },
    {
        "code": "3c",
        "title": "Financement d'un projet de transformation numérique ayant un impact concret "
        "dans la relation à l'usager",
        "description": None,
        "funding_cap_rate_bps": None,
        "forfaits": False,
        "advisors": [],
        "criteria": [
            {"code": "impact", "label": "Impact du projet", "weight": 25},
            {"code": "niveau_portage", "label": "Niveau de portage du projet", "weight": 20},
            {"code": "equipe_projet", "label": "Composition de l'équipe projet", "weight": 20},
            {
                "code": "diffusion",
                "label": "Propension à la diffusion (nombre d'utilisateurs cible)",
                "weight": 15,
            },
            {
                "code": "modele_economique",
                "label": "Modèle économique d'extension à d'autres territoires (PI, open source)",
                "weight": 20,
            },
        ],
    },
]

# R-CAP-3: the forfaits recommended by the call for strand 3a; first matching line applies.
# The call's list is an example: every eligible kind gets a forfait (the last line).
DEFAULT_FORFAITS: list[dict[str, Any]] = [
    {
        "label": "Communes de moins de 5 000 habitants",
        "kinds": [K.COMMUNE.value],
        "epci_types": None,
        "population_below": 5000,
        "amount_cents": 500_000,
    },
    {
        "label": "Autres communes",
        "kinds": [K.COMMUNE.value],
        "epci_types": None,
        "population_below": None,
        "amount_cents": 1_000_000,
    },
    {
        "label": "Régions et départements",
        "kinds": [K.REGION.value, K.DEPARTEMENT.value],
        "epci_types": None,
        "population_below": None,
        "amount_cents": 2_000_000,
    },
    {
        "label": "Communautés de communes ou d'agglomération",
        "kinds": [K.EPCI.value],
        "epci_types": ["CC", "CA"],
        "population_below": None,
        "amount_cents": 2_000_000,
    },
    {
        "label": "Métropoles, communautés urbaines, syndicats, collectivités d'outre-mer et "
        "organismes publics",
        "kinds": [
            K.EPCI.value,
            K.SYNDICAT.value,
            K.COLLECTIVITE_OUTRE_MER.value,
            K.PUBLIC_BODY.value,
        ],
        "epci_types": None,
        "population_below": None,
        "amount_cents": 2_000_000,
    },
]

PDF = "application/pdf"
IMAGES = ["image/png", "image/jpeg"]
TEXTS = [
    "application/vnd.oasis.opendocument.text",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
]
SHEETS = [
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "text/csv",
]
MB = 1024 * 1024

# R-DOC-1: the documents the call asks for, at each step (R-ELIG-1, R-ELIG-3, R-PAY-2).
REQUIRED_DOCUMENTS: list[dict[str, Any]] = [
    {
        "code": "deliberation",
        "label": "Délibération ou lettre de l'exécutif",
        "owner": "project",
        "step": "submission",
        "strands": None,
        "candidate_kinds": None,
        "per_line_above_cents": None,
        "allowed_types": [PDF, *IMAGES, *TEXTS],
        "max_bytes": 20 * MB,
    },
    {
        "code": "quote",
        "label": "Devis",
        "owner": "project",
        "step": "submission",
        "strands": None,
        "candidate_kinds": None,
        "per_line_above_cents": 500_000,
        "allowed_types": [PDF, *IMAGES, *TEXTS, *SHEETS],
        "max_bytes": 20 * MB,
    },
    {
        "code": "attestation",
        "label": "Attestation de l'organisme public",
        "owner": "candidate",
        "step": "submission",
        "strands": None,
        "candidate_kinds": [K.PUBLIC_BODY.value],
        "per_line_above_cents": None,
        "allowed_types": [PDF, *IMAGES],
        "max_bytes": 10 * MB,
    },
    {
        "code": "signed_convention",
        "label": "Convention signée",
        "owner": "project",
        "step": "convention",
        "strands": None,
        "candidate_kinds": None,
        "per_line_above_cents": None,
        "allowed_types": [PDF],
        "max_bytes": 20 * MB,
    },
    {
        "code": "final_report",
        "label": "Rapport final",
        "owner": "project",
        "step": "final_report",
        "strands": None,
        "candidate_kinds": None,
        "per_line_above_cents": None,
        "allowed_types": [PDF, *TEXTS],
        "max_bytes": 20 * MB,
    },
    {
        "code": "expense_statement",
        "label": "État récapitulatif des dépenses",
        "owner": "project",
        "step": "final_report",
        "strands": None,
        "candidate_kinds": None,
        "per_line_above_cents": None,
        "allowed_types": [PDF, *SHEETS],
        "max_bytes": 20 * MB,
    },
]

# R-PROG-1: the expense categories of the call; R-EXCL-1 (agents' equipment excluded) and
# R-EXCL-2 (licences share-capped unless their vendor is from the EU) as data.
CATEGORIES: list[dict[str, Any]] = [
    {"code": "study", "label": "Études, cadrages, diagnostics", "excluded": False},
    {"code": "consulting", "label": "Accompagnement par des prestataires", "excluded": False},
    {
        "code": "integration",
        "label": "Intégration et déploiement de solutions existantes",
        "excluded": False,
    },
    {"code": "development", "label": "Développement", "excluded": False},
    {"code": "training", "label": "Formation", "excluded": False},
    {
        "code": "software_licence",
        "label": "Licences logicielles",
        "excluded": False,
        "share_capped": True,
    },
    {"code": "hosting", "label": "Hébergement", "excluded": False},
    {
        "code": "equipment_agents",
        "label": "Équipements informatiques des agents",
        "excluded": True,
    },
    {"code": "other", "label": "Autres dépenses", "excluded": False},
]
for _category in CATEGORIES:
    _category.setdefault("share_capped", False)

ELIGIBLE: list[str] = [
    K.COMMUNE.value,
    K.DEPARTEMENT.value,
    K.REGION.value,
    K.COLLECTIVITE_OUTRE_MER.value,
    K.EPCI.value,
    K.SYNDICAT.value,
    K.PUBLIC_BODY.value,
]

PROGRAMME_DEFAULTS: dict[str, Any] = {
    "code": PROGRAMME_CODE,
    "status": "published",
    "dispositif_aide": "France Relance — Transformation numérique des collectivités "
    "territoriales (FITN7 axe 3)",
    "eligible_kinds": ELIGIBLE,
    "categories": CATEGORIES,
    "title": "Transformation numérique des collectivités territoriales — FITN7 axe 3 : "
    "guichet départemental (France Relance)",
    "window_opens_on": date(2021, 1, 25),
    "window_closes_on": None,
    "results_deadline": date(2022, 12, 31),
    "max_duration_months": 24,
    "funding_cap_rate_bps": 10_000,
    "extra_eu_licence_share_cap_bps": 1_000,
    "committee_filing_threshold": 10,
    "committee_max_interval_days": 30,
    "advance_cap_bps": 3_000,
    "pre_final_payment_cap_bps": 8_000,
    "small_population_threshold": 5_000,
    "general_criteria": GENERAL_CRITERIA,
    "strands": STRANDS,
    "forfaits": DEFAULT_FORFAITS,
    "required_documents": REQUIRED_DOCUMENTS,
}
