"""Errors of the committees domain."""

from __future__ import annotations

from app.core.errors import Conflict, Forbidden, NotFound, UnprocessableEntity


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
    """R-COM-2: a dossier is on one open agenda at a time (409: the server's state)."""

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


class CommitteeCancelled(Conflict):
    """R-COM-2: a cancelled committee changes no more."""

    slug = "committee-cancelled"
    title = "Comité annulé"
    default_detail = "Ce comité a été annulé : il ne peut plus être modifié (R-COM-2)."


class CommitteeDateRefused(UnprocessableEntity):
    """R-COM-2: the meeting date lies inside the programme and is not in the past."""

    slug = "committee-date-refused"
    title = "Date de séance refusée"


class AgendaItemsRefused(UnprocessableEntity):
    """R-COM-2: an id that is not a dossier in review of the committee's département (another
    département's, unknown, not in review): the same answer for each, naming the item."""

    slug = "agenda-item-refused"
    title = "Dossier refusé à l'ordre du jour"


class CancelRefused(Conflict):
    """R-COM-2: only a planned committee with no decision can be cancelled."""

    slug = "committee-cancel-refused"
    title = "Annulation du comité refusée"


class RecusedDecider(Forbidden):
    """R-EVAL-2: the agent who declared a conflict of interest on a dossier does not decide it."""

    slug = "recused-decider"
    title = "Agent récusé"


class NationalDecider(Forbidden):
    """R-ACL-1: DINUM and ANCT never decide, close or otherwise drive a committee."""

    slug = "national-decider"
    title = "Décision réservée à la préfecture"
    default_detail = (
        "Seule la préfecture du département décide en comité : DINUM et l'ANCT ne décident "
        "jamais (R-ACL-1)."
    )
