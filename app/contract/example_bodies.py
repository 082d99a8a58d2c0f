"""Request examples that the service accepts (issue 27 §2), in the state the scenario of
tests/contract/test_examples_real.py documents: on the suite's clock (2021-02-15, FITN7 axe 3
open), Marseille (a commune of the 13) files a 3c dossier; the prefect of the 13 reviews and
scores it on the whole 3c grid (R-EVAL-1: the general criteria and the strand's), plans a
committee that he chairs (R-COM-2), and the committee of 2021-06-15 grants 10 000 €; the
convention of 2021-09-15 pays an advance of 30 % (R-PAY-1) on 2021-10-01, the final report
comes on 2022-11-30. Ids in bodies (a dossier on an agenda) are the scenario's own.

Bodies set here name the default programme's data (its strands, its expense categories, its
grid): documentation data, kept in the contract rather than in the models (issue 26).
"""

from __future__ import annotations

import json
from typing import Any

from app.contract.example_answers import DOCUMENTED_IDS
from app.programme.schemas import ProgrammeDocument
from app.programme.seed_nt2026 import NT2026

# The README's second call (examples/programmes/numerique-territoires-2026.json, seeded by
# `python -m app seed --all`): a draft DINUM can create on a service that lacks it (R-PROG-1).
PROGRAMME_DOCUMENT: dict[str, Any] = json.loads(
    json.dumps({name: NT2026[name] for name in ProgrammeDocument.model_fields}, default=str)
)

# The dossier the examples speak of (the captured answers have the same id).
PROJECT_ID = DOCUMENTED_IDS["project_id"]

# R-EVAL-1: FITN7 3c is scored on the general criteria and the strand's own (app/programme/seed).
SCORES_3C = {
    "pertinence_impact": 4,
    "beneficiaires_replicabilite": 4,
    "duree_iterations_usagers": 3,
    "equipe_organisation": 4,
    "impact": 4,
    "niveau_portage": 5,
    "equipe_projet": 3,
    "diffusion": 3,
    "modele_economique": 4,
}

# R-COM-2: the prefect chairs (the first member), with the services that instruct.
COMMITTEE_MEMBERS = [
    {"name": "M. le Préfet", "role": "Préfet des Bouches-du-Rhône"},
    {"name": "Mme la Sous-préfète", "role": "Sous-préfète à la relance"},
    {"name": "M. Karim Benali", "role": "Chef du service numérique de la préfecture"},
]

# A compact JWS as ProConnect issues (header.payload.signature, base64url): illustrative only.
_ID_TOKEN = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6InByb2Nvbm5lY3QtMjAyMSJ9"
    ".eyJzdWIiOiJhZ2VudC1tYXJzZWlsbGUiLCJpc3MiOiJodHRwczovL2F1dGgucHJvY29ubmVjdC5nb3V2LmZyIn0"
    ".c2lnbmF0dXJlLWRlLXByb2Nvbm5lY3Q"
)

# One example, or a list of them, by component.
REQUEST_COMPONENT_EXAMPLES: dict[str, Any] = {
    "ProjectCreate": {
        "strand": "3c",
        "title": "Prise de rendez-vous en ligne pour l'état civil",
        "description": "Un service de prise de rendez-vous en ligne et par téléphone.",
        "nature": "modernisation",
        "start_on": "2021-03-01",
        "end_on": "2022-06-30",
        "sponsor": {"name": "Mme la Maire", "role": "Maire"},
        "agents_impacted": 40,
        "users_impacted": 20000,
        "expense_lines": [
            {"category": "development", "label": "Développement", "amount_cents": 4_000_000},
            {
                "category": "software_licence",
                "label": "Licence",
                "amount_cents": 300_000,
                "vendor_origin": "extra_eu",
            },
        ],
        "other_funding": [{"funder": "Région", "amount_cents": 500_000}],
        "requested_cents": 3_000_000,
    },
    "MappingIn": {
        "fields": {
            "siret": "SIRET de la collectivité",
            "kind": "Type de collectivité",
            "departement": "Département",
            "strand": "Volet sollicité",
            "title": "Intitulé du projet",
            "description": "Description du projet",
            "start_on": "Date de début du projet",
            "end_on": "Date de fin du projet",
            "requested": "Montant de subvention demandé (€)",
            "sponsor_name": "Élu ou responsable qui porte le projet",
            "sponsor_role": "Élu ou responsable qui porte le projet",
        },
        "nature": "modernisation",
        "kinds": [{"label": "Commune", "kind": "commune"}],
        "strands": [{"label": "3c - Projet améliorant la relation à l'usager", "strand": "3c"}],
        "expenses": {
            "block": "Postes de dépense",
            "category": "Nature de la dépense",
            "label": "Libellé",
            "amount": "Montant TTC (€)",
        },
        "categories": [{"label": "Formation des agents", "category": "training"}],
    },
    "CommitteeCreate": {
        "programme": "FITN7-AXE3",
        "meeting_on": "2021-06-15",
        "title": "Comité de sélection FITN7 du 15 juin 2021",
        "members": COMMITTEE_MEMBERS,
    },
    "AgendaChange": {"add": [PROJECT_ID], "remove": []},
    "ProgrammeDocument": PROGRAMME_DOCUMENT,
    "ProgrammePreviewIn": {
        "candidate": {"kind": "commune", "population": 870_731, "departement": "13"},
        "strand": "3c",
        "start_on": "2021-04-01",
        "end_on": "2022-06-30",
        "expense_lines": [
            {"category": "development", "label": "Développement", "amount_cents": 2_000_000}
        ],
        "other_funding": [{"funder": "Région Provence-Alpes-Côte d'Azur", "amount_cents": 500_000}],
        "requested_cents": 1_000_000,
    },
    "EvaluationCreate": [
        {
            "conflict_of_interest": False,
            "scores": SCORES_3C,
            "recommendation": "fund",
            "comments": "Projet solide : équipe disponible, budget cohérent, code réutilisable.",
        },
        {"conflict_of_interest": True},
    ],
    "EvaluationUpdate": {
        "scores": {**SCORES_3C, "diffusion": 4},
        "recommendation": "fund",
        "comments": "Le plan de diffusion aux communes voisines est désormais précisé.",
    },
    "SubscriptionCreate": {
        "url": "https://hooks.exemple.fr/guichet",
        "event_types": ["project.status_changed"],
        "description": "Suivi des dossiers du département par l'outil de la préfecture.",
    },
}

# Bodies without a component of their own (a union, an optional body), by operation: named
# examples (OpenAPI `examples`), each a body the service accepts.
OPERATION_REQUEST_EXAMPLES: dict[str, dict[str, dict[str, Any]]] = {
    "record_decision": {
        "accepted": {
            "summary": "Subvention accordée",
            "value": {
                "project_id": PROJECT_ID,
                "outcome": "accepted",
                "granted_cents": 1_000_000,
                "motivation": "Projet structurant pour l'accueil des usagers, budget cohérent.",
            },
        },
        "rejected": {
            "summary": "Dossier refusé, motivé",
            "value": {
                "project_id": PROJECT_ID,
                "outcome": "rejected",
                "motivation": "Projet déjà financé par un autre dispositif.",
            },
        },
        "deferred": {
            "summary": "Décision reportée au prochain comité",
            "value": {
                "project_id": PROJECT_ID,
                "outcome": "deferred",
                "motivation": "Le plan de financement régional reste à confirmer.",
            },
        },
    },
    "logout": {
        "hint": {
            "summary": "Avec le jeton d'identité ProConnect de la session",
            "value": {"id_token_hint": _ID_TOKEN},
        }
    },
    "exchange_token": {
        "proconnect": {
            "summary": "Échange d'un jeton d'identité ProConnect",
            "value": {
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": _ID_TOKEN,
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
            },
        }
    },
}


# Answers the scenario cannot capture (tests/contract/test_examples_real.py, NOT_CAPTURED), set
# on their component: consistent with the request examples above.
RESPONSE_COMPONENT_EXAMPLES: dict[str, Any] = {
    "TokenResponse": {
        "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
        ".eyJzdWIiOiJwcmVmZXQtMTMiLCJyb2xlIjoicHJlZmVjdCIsImRlcGFydGVtZW50IjoiMTMifQ"
        ".c2lnbmF0dXJlLWR1LWd1aWNoZXQ",
        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "role:prefect departement:13",
        "role": "prefect",
        "departement": "13",
        "siren": None,
        "mapping_rule": "Domaine d'adresse bouches-du-rhone.gouv.fr (préfecture du 13)",
    },
}
