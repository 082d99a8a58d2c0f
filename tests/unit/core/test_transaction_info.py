"""What a transaction keeps for its own commit (`transaction_info`: the audit events it buffers,
R-AUDIT-1; what its commit's listeners read, R-NOTIF-1 and R-HOOK-1) lasts as long as the
transaction: forgotten when it commits or rolls back, kept across a savepoint's end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from app.core.db import transaction_info


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    with Session(engine) as opened:
        yield opened
    engine.dispose()


@pytest.mark.parametrize("end", ["commit", "rollback"])
def test_a_transaction_forgets_what_it_kept_when_it_ends(session: Session, end: str) -> None:
    session.execute(text("SELECT 1"))
    transaction_info(session)["kept"] = [1]
    assert transaction_info(session) == {"kept": [1]}
    getattr(session, end)()
    assert transaction_info(session) == {}
    session.execute(text("SELECT 1"))  # the next transaction starts with nothing
    assert "kept" not in transaction_info(session)


def test_a_savepoint_ending_keeps_what_its_transaction_kept(session: Session) -> None:
    session.execute(text("SELECT 1"))
    transaction_info(session)["kept"] = [1]
    with session.begin_nested():
        transaction_info(session)["kept"].append(2)
    assert transaction_info(session) == {"kept": [1, 2]}
    nested = session.begin_nested()
    nested.rollback()
    assert transaction_info(session) == {"kept": [1, 2]}
    session.commit()
    assert transaction_info(session) == {}


def test_the_rest_of_the_session_info_outlives_its_transactions(session: Session) -> None:
    session.info["production"] = True
    session.execute(text("SELECT 1"))
    transaction_info(session)["kept"] = 1
    session.rollback()
    assert session.info["production"] is True


async def test_an_async_session_keeps_in_its_sync_session() -> None:
    engine = create_async_engine("sqlite+aiosqlite://")
    async with AsyncSession(engine) as session:
        await session.execute(text("SELECT 1"))
        transaction_info(session)["kept"] = 1
        assert transaction_info(session.sync_session) == {"kept": 1}
        await session.rollback()
        assert transaction_info(session) == {}
    await engine.dispose()
