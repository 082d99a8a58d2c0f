"""R-ACL-1 held by the committees service itself, not only by the routes' role checks: DINUM
and ANCT, who read every committee, never plan, change, decide, close or cancel one.

The service functions are called directly, with a session that must not be touched: the
refusal comes before any read, whatever the data."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, Role
from app.committees import (
    agenda as committees_agenda,
    cancel as committees_cancel,
    close as committees_close,
    decisions as committees_decisions,
    planning as committees_planning,
)
from app.committees.errors import NationalDecider
from app.committees.rules import Outcome
from app.committees.schemas import AcceptedDecision, AgendaChange, CommitteeCreate, MemberIn
from app.programme.models import Programme


class Untouchable:
    """A session that fails the test if the service reads or writes anything."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the service touched the session ({name}) before refusing")


SESSION = cast(AsyncSession, Untouchable())
NATIONAL = [Principal("agent-dinum", Role.DINUM), Principal("agent-anct", Role.ANCT)]
COMMITTEE = uuid.uuid4()


def _refused(exc: pytest.ExceptionInfo[NationalDecider]) -> None:
    assert (exc.value.status, exc.value.code) == (403, "R-ACL-1")
    assert "R-ACL-1" in exc.value.detail


@pytest.mark.parametrize("principal", NATIONAL, ids=lambda p: p.role.value)
async def test_r_acl_1_a_national_principal_never_records_a_decision(principal: Principal) -> None:
    decision = AcceptedDecision(
        project_id=uuid.uuid4(), outcome=Outcome.ACCEPTED, granted_cents=1_000_000
    )
    with pytest.raises(NationalDecider) as exc:
        await committees_decisions.record_decision(
            SESSION, principal, committee_id=COMMITTEE, if_match='"v1"', data=decision
        )
    _refused(exc)


@pytest.mark.parametrize("principal", NATIONAL, ids=lambda p: p.role.value)
async def test_r_acl_1_a_national_principal_never_closes(principal: Principal) -> None:
    with pytest.raises(NationalDecider) as exc:
        await committees_close.close_committee(
            SESSION, principal, committee_id=COMMITTEE, if_match='"v1"'
        )
    _refused(exc)


@pytest.mark.parametrize("principal", NATIONAL, ids=lambda p: p.role.value)
async def test_r_acl_1_a_national_principal_never_plans_changes_or_cancels(
    principal: Principal,
) -> None:
    with pytest.raises(NationalDecider) as exc:
        await committees_cancel.cancel_committee(
            SESSION, principal, committee_id=COMMITTEE, if_match='"v1"'
        )
    _refused(exc)
    with pytest.raises(NationalDecider) as exc:
        await committees_agenda.change_agenda(
            SESSION, principal, committee_id=COMMITTEE, if_match='"v1"', data=AgendaChange()
        )
    _refused(exc)
    planned = CommitteeCreate(
        meeting_on=date(2021, 6, 15), members=[MemberIn(name="M. X", role="Préfet")]
    )
    with pytest.raises(NationalDecider) as exc:
        await committees_planning.create_committee(
            SESSION, principal, programme=cast(Programme, Untouchable()), data=planned
        )
    _refused(exc)
