"""A second call, "Numérique des territoires 2026" (issue 26, R-PROG-1): it differs from FITN7
axe 3 on every axis (two strands, communes and EPCI only, an 80 % cap, no forfaits, its own
excluded category, no advisory evaluator, a five-dossier committee threshold, a 20 % advance,
its own grids and documents), so that nothing of the first call can hide in code."""

from __future__ import annotations

from datetime import date
from typing import Any

from app.programme.seed import IMAGES, MB, PDF, SHEETS, TEXTS
from app.reference.kinds import OrganisationKind as K

NT2026_CODE = "NUMERIQUE-TERRITOIRES-2026"

_GENERAL: list[dict[str, Any]] = [
    {"code": "utilite_usagers", "label": "Utilité pour les usagers du territoire", "weight": 40},
    {"code": "mutualisation", "label": "Mutualisation entre collectivités", "weight": 30},
    {"code": "sobriete", "label": "Sobriété numérique et accessibilité", "weight": 30},
]

_STRANDS: list[dict[str, Any]] = [
    {
        "code": "socle",
        "title": "Socle numérique : infrastructures, sécurité et outils de base des services",
        "description": "Mise à niveau des outils de base : messagerie, sauvegarde, sécurité, "
        "postes partagés des services.",
        "funding_cap_rate_bps": None,
        "forfaits": False,
        "advisors": [],
        "criteria": [
            {"code": "niveau_risque", "label": "Niveau de risque réduit", "weight": 50},
            {"code": "perennite", "label": "Pérennité du financement", "weight": 50},
        ],
    },
    {
        "code": "services",
        "title": "Services numériques aux usagers",
        "description": "Démarches en ligne, prise de rendez-vous, information des habitants.",
        "funding_cap_rate_bps": 7_000,  # a lower cap than the programme's on this strand
        "forfaits": False,
        "advisors": [],
        "criteria": [
            {"code": "demarches_couvertes", "label": "Démarches couvertes", "weight": 60},
            {"code": "mesure_satisfaction", "label": "Mesure de la satisfaction", "weight": 40},
        ],
    },
]

_CATEGORIES: list[dict[str, Any]] = [
    {"code": "study", "label": "Études et diagnostics", "excluded": False, "share_capped": False},
    {
        "code": "equipment",
        "label": "Équipements partagés des services",
        "excluded": False,
        "share_capped": False,
    },
    {
        "code": "software_licence",
        "label": "Licences logicielles",
        "excluded": False,
        "share_capped": True,
    },
    {"code": "development", "label": "Développement", "excluded": False, "share_capped": False},
    {
        "code": "internal_staff",
        "label": "Dépenses de personnel interne",
        "excluded": True,
        "share_capped": False,
    },
    {
        "code": "communication",
        "label": "Communication auprès des habitants",
        "excluded": False,
        "share_capped": False,
    },
]

_DOCUMENTS: list[dict[str, Any]] = [
    {
        "code": "deliberation",
        "label": "Délibération du conseil",
        "owner": "project",
        "step": "submission",
        "strands": None,
        "candidate_kinds": None,
        "per_line_above_cents": None,
        "allowed_types": [PDF],
        "max_bytes": 10 * MB,
    },
    {
        "code": "financing_plan",
        "label": "Plan de financement",
        "owner": "project",
        "step": "submission",
        "strands": None,
        "candidate_kinds": None,
        "per_line_above_cents": None,
        "allowed_types": [PDF, *SHEETS],
        "max_bytes": 10 * MB,
    },
    {
        "code": "security_audit",
        "label": "Diagnostic de sécurité",
        "owner": "project",
        "step": "submission",
        "strands": ["socle"],
        "candidate_kinds": None,
        "per_line_above_cents": None,
        "allowed_types": [PDF, *TEXTS],
        "max_bytes": 20 * MB,
    },
    {
        "code": "signed_convention",
        "label": "Convention signée",
        "owner": "project",
        "step": "convention",
        "strands": None,
        "candidate_kinds": None,
        "per_line_above_cents": None,
        "allowed_types": [PDF, *IMAGES],
        "max_bytes": 20 * MB,
    },
    {
        "code": "final_report",
        "label": "Bilan de l'opération",
        "owner": "project",
        "step": "final_report",
        "strands": None,
        "candidate_kinds": None,
        "per_line_above_cents": None,
        "allowed_types": [PDF],
        "max_bytes": 20 * MB,
    },
]

NT2026: dict[str, Any] = {
    "code": NT2026_CODE,
    "status": "published",
    "title": "Numérique des territoires 2026",
    "dispositif_aide": "Numérique des territoires 2026",
    "eligible_kinds": [K.COMMUNE.value, K.EPCI.value],
    "categories": _CATEGORIES,
    "window_opens_on": date(2026, 2, 1),
    "window_closes_on": date(2027, 3, 31),
    "results_deadline": date(2028, 6, 30),
    "max_duration_months": 30,
    "funding_cap_rate_bps": 8_000,
    "extra_eu_licence_share_cap_bps": 2_000,
    "committee_filing_threshold": 5,
    "committee_max_interval_days": 45,
    "advance_cap_bps": 2_000,
    "pre_final_payment_cap_bps": 7_000,
    "small_population_threshold": 3_500,
    "general_criteria": _GENERAL,
    "strands": _STRANDS,
    "forfaits": [],
    "required_documents": _DOCUMENTS,
}
