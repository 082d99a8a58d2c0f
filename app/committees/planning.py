"""Planning a committee: its prefecture sets the meeting date and the members (R-COM-2,
R-ACL-1)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.committees import access
from app.committees.errors import CommitteeDateRefused
from app.committees.models import Committee
from app.committees.rules import CommitteeStatus, meeting_date_problem
from app.committees.schemas import CommitteeCreate
from app.core import clock
from app.core.errors import ProblemItem
from app.programme.models import Programme


async def create_committee(
    session: AsyncSession, principal: Principal, *, programme: Programme, data: CommitteeCreate
) -> Committee:
    """The prefect plans a committee of its own département (R-ACL-1: DINUM and ANCT never do,
    403). R-COM-2: its meeting date lies inside the programme and is not in the past (422)."""
    access.check_decider(principal)
    assert principal.departement is not None
    problem = meeting_date_problem(
        data.meeting_on,
        window_opens_on=programme.window_opens_on,
        results_deadline=programme.results_deadline,
        today=clock.today(),
    )
    if problem is not None:
        raise CommitteeDateRefused(
            f"{problem} (R-COM-2)",
            code="R-COM-2",
            errors=[ProblemItem(code="R-COM-2", message=problem, field="/meeting_on")],
        )
    committee = Committee(
        programme_id=programme.id,
        departement=principal.departement,
        title=data.title,
        meeting_on=data.meeting_on,
        members=[m.model_dump() for m in data.members],
        status=CommitteeStatus.PLANNED.value,
        created_by=principal.subject,
    )
    session.add(committee)
    await session.flush()
    await access.changed(  # R-AUDIT-1
        session, principal, committee, "created", after=audit.snapshot(committee), created=True
    )
    return committee
