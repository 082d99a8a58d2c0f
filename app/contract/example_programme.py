"""The programme document of the README's second call (examples/programmes/
numerique-territoires-2026.json, which tests/contract/test_examples_real.py holds equal to this
copy): the contract's example of `POST /programmes`, a draft DINUM can create (R-PROG-1). The
image ships no `examples/` folder, so the contract carries its own copy."""

from __future__ import annotations

from typing import Any

PROGRAMME_DOCUMENT: dict[str, Any] = {
    "code": "NUMERIQUE-TERRITOIRES-2026",
    "title": "Numérique des territoires 2026",
    "dispositif_aide": "Numérique des territoires 2026",
    "eligible_kinds": ["commune", "epci"],
    "categories": [
        {
            "code": "study",
            "label": "Études et diagnostics",
            "excluded": False,
            "share_capped": False,
        },
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
    ],
    "window_opens_on": "2026-02-01",
    "window_closes_on": "2027-03-31",
    "results_deadline": "2028-06-30",
    "max_duration_months": 30,
    "funding_cap_rate_bps": 8000,
    "extra_eu_licence_share_cap_bps": 2000,
    "committee_filing_threshold": 5,
    "committee_max_interval_days": 45,
    "advance_cap_bps": 2000,
    "pre_final_payment_cap_bps": 7000,
    "small_population_threshold": 3500,
    "general_criteria": [
        {
            "code": "utilite_usagers",
            "label": "Utilité pour les usagers du territoire",
            "weight": 40,
        },
        {"code": "mutualisation", "label": "Mutualisation entre collectivités", "weight": 30},
        {"code": "sobriete", "label": "Sobriété numérique et accessibilité", "weight": 30},
    ],
    "strands": [
        {
            "code": "socle",
            "title": "Socle numérique : infrastructures, sécurité et outils de base des services",
            "description": "Mise à niveau des outils de base : messagerie, sauvegarde, "
            "sécurité, postes partagés des services.",
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
            "funding_cap_rate_bps": 7000,
            "forfaits": False,
            "advisors": [],
            "criteria": [
                {"code": "demarches_couvertes", "label": "Démarches couvertes", "weight": 60},
                {"code": "mesure_satisfaction", "label": "Mesure de la satisfaction", "weight": 40},
            ],
        },
    ],
    "forfaits": [],
    "required_documents": [
        {
            "code": "deliberation",
            "label": "Délibération du conseil",
            "owner": "project",
            "step": "submission",
            "strands": None,
            "candidate_kinds": None,
            "per_line_above_cents": None,
            "allowed_types": ["application/pdf"],
            "max_bytes": 10485760,
        },
        {
            "code": "financing_plan",
            "label": "Plan de financement",
            "owner": "project",
            "step": "submission",
            "strands": None,
            "candidate_kinds": None,
            "per_line_above_cents": None,
            "allowed_types": [
                "application/pdf",
                "application/vnd.oasis.opendocument.spreadsheet",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "text/csv",
            ],
            "max_bytes": 10485760,
        },
        {
            "code": "security_audit",
            "label": "Diagnostic de sécurité",
            "owner": "project",
            "step": "submission",
            "strands": ["socle"],
            "candidate_kinds": None,
            "per_line_above_cents": None,
            "allowed_types": [
                "application/pdf",
                "application/vnd.oasis.opendocument.text",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ],
            "max_bytes": 20971520,
        },
        {
            "code": "signed_convention",
            "label": "Convention signée",
            "owner": "project",
            "step": "convention",
            "strands": None,
            "candidate_kinds": None,
            "per_line_above_cents": None,
            "allowed_types": ["application/pdf", "image/png", "image/jpeg"],
            "max_bytes": 20971520,
        },
        {
            "code": "final_report",
            "label": "Bilan de l'opération",
            "owner": "project",
            "step": "final_report",
            "strands": None,
            "candidate_kinds": None,
            "per_line_above_cents": None,
            "allowed_types": ["application/pdf"],
            "max_bytes": 20971520,
        },
    ],
}
