"""Envelopes: DINUM's allocations, top-ups, reductions and transfers (R-CAP-4: never below what
is committed), and the département scope of every envelope route (R-ACL-1). Their reads are
lean (app/budgets/envelope_reads.py)."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.fr import siret as siret_number

from app.audit import service as audit
from app.auth.principal import Principal, Role
from app.budgets import repository
from app.budgets.errors import EnvelopeNotFound
from app.budgets.models import Envelope, LedgerMovement
from app.budgets.movements import Delta, exhausted, move
from app.budgets.rules import AllocationKind, MovementKind, check_allocation_bound
from app.budgets.schemas import AllocationCreate
from app.core.errors import ProblemItem, UnprocessableEntity
from app.core.rules import RuleFailure, raise_failures
from app.core.schemas import MAX_CENTS
from app.programme.models import Programme
from app.projects.display import euros
from app.reference.catalogue import get_catalogue


def check_departement_scope(principal: Principal, departement: str) -> None:
    """A prefect reaches only its département; an unknown code is not found (R-ACL-1)."""
    if principal.role is Role.PREFECT and principal.departement != departement:
        raise EnvelopeNotFound()
    if not get_catalogue().is_departement(departement):
        raise EnvelopeNotFound(f"Département « {departement} » inconnu.")


async def _ensure_envelope(
    session: AsyncSession,
    principal: Principal,
    programme: Programme,
    departement: str,
    data: AllocationCreate,
) -> Envelope:
    envelope = await repository.envelope_for(session, programme.id, departement)
    if envelope is not None:
        return envelope
    if not data.prefecture_name or not data.prefecture_siret:
        raise UnprocessableEntity(
            "Première allocation de ce département : le nom et le SIRET de la préfecture "
            "attributaire sont requis (données ouvertes).",
            code="prefecture-required",
        )
    if not siret_number.is_valid(data.prefecture_siret):
        # R-ELIG-2 (SIRET validity): the SIRET is published as idAttribuant in the open data,
        # which must carry valid SIRETs; the schema only checks 14 digits.
        raise_failures(
            [
                RuleFailure(
                    "R-ELIG-2",
                    "SIRET de la préfecture invalide (clé de contrôle incorrecte).",
                    "/prefecture_siret",
                )
            ]
        )
    envelope = Envelope(
        programme_id=programme.id,
        departement=departement,
        prefecture_name=data.prefecture_name,
        prefecture_siret=data.prefecture_siret,
    )
    try:
        async with session.begin_nested():
            session.add(envelope)
    except IntegrityError:  # created meanwhile by a concurrent first allocation
        existing = await repository.envelope_for(session, programme.id, departement)
        assert existing is not None
        return existing
    await audit.record(  # R-AUDIT-1: the prefecture's identity goes to the open data
        session,
        principal,
        object_type="envelope",
        object_id=envelope.id,
        departement=departement,
        action="created",
        after=audit.snapshot(envelope, ("prefecture_name", "prefecture_siret")),
    )
    return envelope


def _check_bound(envelope: Envelope, amount_cents: int) -> None:
    """422 before any money moves when the envelope would leave the contract's bound."""
    if not check_allocation_bound(envelope.allocated_cents, amount_cents, MAX_CENTS):
        raise UnprocessableEntity(
            f"L'enveloppe du département {envelope.departement} dépasserait le montant maximal "
            f"admis ({euros(MAX_CENTS)}) : alloué {euros(envelope.allocated_cents)}, "
            f"ajout {euros(amount_cents)}.",
            code="amount-bound",
            errors=[
                ProblemItem(
                    code="amount-bound",
                    field="/amount_cents",
                    message="Montant hors des bornes du contrat.",
                )
            ],
        )


async def allocate(
    session: AsyncSession,
    principal: Principal,
    *,
    programme: Programme,
    departement: str,
    data: AllocationCreate,
) -> tuple[Envelope, list[LedgerMovement]]:
    """DINUM allocates, tops up, reduces or transfers an envelope.

    A reduction (or a transfer out) below what is committed is refused (R-CAP-4, 409).
    """
    check_departement_scope(principal, departement)
    amount = data.amount_cents
    if data.kind in (AllocationKind.ALLOCATION, AllocationKind.TOP_UP):
        envelope = await _ensure_envelope(session, principal, programme, departement, data)
        _check_bound(await repository.fresh_envelope(session, envelope.id), amount)
        kind = (
            MovementKind.ALLOCATION
            if data.kind is AllocationKind.ALLOCATION
            else MovementKind.ADJUSTMENT
        )
        movement = await move(
            session,
            principal,
            envelope_id=envelope.id,
            kind=kind,
            delta=Delta(allocated=amount),
            reference=data.reference,
        )
        if movement is None:  # a concurrent top-up reached the bound first
            _check_bound(await repository.fresh_envelope(session, envelope.id), amount)
            raise AssertionError("adding to allocated cannot break allocated ≥ committed")
        return await repository.fresh_envelope(session, envelope.id), [movement]
    existing = await repository.envelope_for(session, programme.id, departement)
    if existing is None:
        raise EnvelopeNotFound()
    envelope = existing
    if data.kind is AllocationKind.REDUCTION:
        movement = await move(
            session,
            principal,
            envelope_id=envelope.id,
            kind=MovementKind.ADJUSTMENT,
            delta=Delta(allocated=-amount),
            reference=data.reference,
        )
        if movement is None:
            envelope = await repository.fresh_envelope(session, envelope.id)
            raise exhausted(
                envelope,
                f"Réduction de {euros(amount)} impossible : l'enveloppe descendrait sous ce qui "
                f"est déjà engagé ({euros(envelope.committed_cents)}).",
            )
        return await repository.fresh_envelope(session, envelope.id), [movement]
    return await _transfer(session, principal, programme, envelope, data)


async def _transfer(
    session: AsyncSession,
    principal: Principal,
    programme: Programme,
    source: Envelope,
    data: AllocationCreate,
) -> tuple[Envelope, list[LedgerMovement]]:
    target_code = data.to_departement or ""
    if target_code == source.departement or not get_catalogue().is_departement(target_code):
        raise UnprocessableEntity(
            "Le transfert doit viser un autre département existant.", code="invalid-transfer"
        )
    target = await repository.envelope_for(session, programme.id, target_code)
    if target is None:
        raise EnvelopeNotFound(
            f"Le département {target_code} n'a pas encore d'enveloppe : allouez-la d'abord."
        )
    amount = data.amount_cents
    _check_bound(await repository.fresh_envelope(session, target.id), amount)
    # Lock in a fixed order (by département code) so two opposite transfers cannot deadlock.
    first, second = sorted([source, target], key=lambda e: e.departement)
    moves: dict[uuid.UUID, LedgerMovement | None] = {}
    for envelope in (first, second):
        outgoing = envelope.id == source.id
        moves[envelope.id] = await move(
            session,
            principal,
            envelope_id=envelope.id,
            kind=MovementKind.TRANSFER_OUT if outgoing else MovementKind.TRANSFER_IN,
            delta=Delta(allocated=-amount if outgoing else amount),
            reference=data.reference,
        )
        if moves[envelope.id] is None:
            fresh = await repository.fresh_envelope(session, source.id)
            raise exhausted(
                fresh,
                f"Transfert de {euros(amount)} impossible : l'enveloppe descendrait sous ce qui "
                f"est déjà engagé ({euros(fresh.committed_cents)}).",
            )
    out_move, in_move = moves[source.id], moves[target.id]
    assert out_move is not None and in_move is not None
    return await repository.fresh_envelope(session, source.id), [out_move, in_move]
