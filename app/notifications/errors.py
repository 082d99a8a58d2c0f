"""Errors of notifications."""

from __future__ import annotations

from app.core.errors import Forbidden, NotFound


class AddressNotFound(NotFound):
    default_detail = "Adresse de notification introuvable pour ce département."


class NotificationForbidden(Forbidden):
    default_detail = (
        "Réservé à la DINUM et au préfet du département (R-NOTIF-1) : les adresses et les "
        "notifications sont des données personnelles."
    )
