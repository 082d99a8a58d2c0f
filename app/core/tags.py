"""The contract's groups of operations (OpenAPI `tags`): French names, each described, in the
order /docs and /redoc list them (issue 27 §6). A router names its group with one of these
constants; app.contract.openapi writes TAGS into the contract, and
tests/contract/test_openapi_tags.py checks that every operation's tag is declared here."""

from __future__ import annotations

from typing import Any

CONNEXION = "connexion"
PROGRAMMES = "programmes"
REFERENTIEL = "référentiel"
CANDIDATS = "candidats"
PIECES = "pièces"
DOSSIERS = "dossiers"
EVALUATIONS = "évaluations"
COMITES = "comités"
ENVELOPPES = "enveloppes"
SUBVENTIONS = "subventions"
DEMARCHES_SIMPLIFIEES = "démarches-simplifiées"
NOTIFICATIONS = "notifications"
ABONNEMENTS = "abonnements"
STATISTIQUES = "statistiques"
DONNEES_OUVERTES = "données ouvertes"
AUDIT = "audit"
EXPLOITATION = "exploitation"

TAGS: list[dict[str, Any]] = [
    {
        "name": CONNEXION,
        "description": "Se connecter par ProConnect et obtenir le jeton du service, savoir qui "
        "l'on est (rôle et périmètre), clés publiques des jetons, règles de correspondance "
        "des rôles (R-AUTH).",
    },
    {
        "name": PROGRAMMES,
        "description": "Les programmes de subvention : volets, catégories éligibles, taux, "
        "forfaits, calendrier ; rédiger, publier, clore, simuler un dossier (R-PROG).",
    },
    {
        "name": REFERENTIEL,
        "description": "Le référentiel des collectivités (COG, SIREN) qui identifie un candidat.",
    },
    {
        "name": CANDIDATS,
        "description": "Les organisations candidates : enregistrement, fiche, vérification "
        "d'identité par la préfecture (R-ELIG-1).",
    },
    {
        "name": PIECES,
        "description": "Les pièces justificatives d'un candidat ou d'un dossier : dépôt "
        "(type lu dans le contenu, analyse antivirus), métadonnées, téléchargement.",
    },
    {
        "name": DOSSIERS,
        "description": "Les dossiers de demande : brouillon, dépôt, instruction, renvoi pour "
        "complément, retrait, classement ; éligibilité et historique.",
    },
    {
        "name": EVALUATIONS,
        "description": "Les évaluations d'un dossier par les instructeurs avant le comité.",
    },
    {
        "name": COMITES,
        "description": "Les comités de sélection départementaux : planification, ordre du "
        "jour, décisions, clôture et procès-verbal ; savoir si un comité est dû (R-COM).",
    },
    {
        "name": ENVELOPPES,
        "description": "Les enveloppes départementales : allocations, abondements et "
        "transferts, barème de forfaits, mouvements (R-BUD).",
    },
    {
        "name": SUBVENTIONS,
        "description": "La subvention d'un dossier accepté : convention signée, paiements, "
        "rapport final, annulation (R-PAY).",
    },
    {
        "name": DEMARCHES_SIMPLIFIEES,
        "description": "Les dossiers venus de démarches-simplifiées : correspondance d'une "
        "démarche, synchronisations, suivi d'un dossier.",
    },
    {
        "name": NOTIFICATIONS,
        "description": "Les courriels du service : adresse de notification d'une préfecture, "
        "aperçu des modèles, courriels envoyés pour un dossier.",
    },
    {
        "name": ABONNEMENTS,
        "description": "Les abonnements aux événements (webhooks) : création, secret, envois, "
        "renvoi des événements.",
    },
    {
        "name": STATISTIQUES,
        "description": "Les tableaux de bord des agents de l'État : national (DINUM, ANCT) et "
        "par département (un préfet : le sien), en JSON ou en CSV.",
    },
    {
        "name": DONNEES_OUVERTES,
        "description": "Les subventions attribuées, publiques, au format SCDL (CSV ou JSON).",
    },
    {
        "name": AUDIT,
        "description": "Le journal d'audit chaîné : lecture, vérification de la chaîne, "
        "points de contrôle signés.",
    },
    {
        "name": EXPLOITATION,
        "description": "Pour l'exploitation du service : vivacité, disponibilité, métriques "
        "Prometheus.",
    },
]
