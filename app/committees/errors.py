"""Errors of the committees domain."""

from __future__ import annotations

from app.core.errors import Conflict, NotFound


class CommitteeNotFound(NotFound):
    slug = "committee-not-found"
    title = "Comité introuvable"
    default_detail = "Ce comité n'existe pas ou n'est pas dans votre périmètre."


class CommitteeClosed(Conflict):
    """R-COM-3: a closed committee is final."""

    slug = "committee-closed"
    title = "Comité clos"
    default_detail = "Ce comité est clos : ses décisions sont définitives (R-COM-3)."


class AgendaRefused(Conflict):
    """R-COM-2: only `in_review` dossiers of the committee's département, one open agenda each."""

    slug = "agenda-refused"
    title = "Ordre du jour refusé"


class DecisionRefused(Conflict):
    slug = "decision-refused"
    title = "Décision refusée"


class CloseRefused(Conflict):
    """R-COM-3: the close changes nothing when any decision cannot be made final."""

    slug = "committee-close-refused"
    title = "Clôture du comité refusée"


class DecisionNotFound(NotFound):
    slug = "decision-not-found"
    title = "Décision introuvable"
    default_detail = "Aucune décision de comité n'est publiée pour ce dossier."
