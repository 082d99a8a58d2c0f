"""Transition listeners: what a higher domain does when a dossier changes state.

A higher domain (committees) must act, in the same transaction, when a dossier moves: a dossier
returned, withdrawn or closed while on an open agenda leaves it (R-COM-2). This domain may not
import it (the dependency direction), so it registers an async listener here at import, as the
guards of `app.projects.guards` and `app.audit`'s `on_append` listeners do; `advance` calls
every listener after each transition.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.projects.rules import Action, Status

if TYPE_CHECKING:
    from app.projects.models import Project

TransitionListener = Callable[[AsyncSession, Principal, "Project", Status, Action], Awaitable[None]]
"""`listener(session, principal, project, before, action)`: the dossier already carries its new
status; the listener runs in the transition's transaction (it only flushes)."""

_listeners: dict[str, TransitionListener] = {}


def on_transition(listener: TransitionListener) -> TransitionListener:
    """Register `listener` (by its qualified name: a module reloaded in tests replaces it)."""
    _listeners[f"{listener.__module__}.{listener.__qualname__}"] = listener
    return listener


async def notify(
    session: AsyncSession, principal: Principal, project: Project, before: Status, action: Action
) -> None:
    """Call every registered listener, in registration order."""
    for listener in list(_listeners.values()):
        await listener(session, principal, project, before, action)
