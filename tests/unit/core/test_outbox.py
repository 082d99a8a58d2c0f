"""The leased claim shared by the workers (`app.core.outbox`): which rows are due, what a
settle writes, how a failure is retried, and what each database is sent. No database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select

from app.core import outbox
from app.documents.worker import SCANS
from app.notifications.worker import NOTIFICATIONS
from app.webhooks.models import WebhookDelivery

NOW = datetime(2021, 3, 1, 9, tzinfo=UTC)


def sql(clause: object) -> str:
    return str(clause.compile(dialect=postgresql.dialect()))  # type: ignore[attr-defined]


def test_a_column_the_model_lacks_fails_at_declaration() -> None:
    with pytest.raises(AttributeError):
        outbox.LeasedTable(WebhookDelivery, due_at="due_at")


def test_a_row_is_due_when_pending_its_time_has_come_and_no_live_lease_holds_it() -> None:
    text = sql(NOTIFICATIONS.claimable(NOW))
    assert "notification.status = " in text
    assert "notification.next_attempt_at <= " in text
    assert "notification.next_attempt_at IS NULL" not in text  # NOT NULL column
    assert "notification.lease_until IS NULL OR notification.lease_until < " in text


def test_a_null_due_time_is_due_where_the_column_allows_it() -> None:
    text = sql(SCANS.claimable(NOW))
    assert "document.scan_status = " in text
    assert "document.scan_next_at IS NULL OR document.scan_next_at <= " in text
    assert "document.scan_lease_until IS NULL OR document.scan_lease_until < " in text


def test_a_settle_is_guarded_by_the_lease_token_and_releases_the_lease() -> None:
    text = sql(SCANS.held(uuid.uuid4(), uuid.uuid4()))
    assert "document.id = " in text and "document.scan_lease_token = " in text
    assert SCANS.released() == {"scan_lease_until": None, "scan_lease_token": None}


def test_a_failure_is_retried_after_the_delay_or_failed_when_the_schedule_is_exhausted() -> None:
    assert NOTIFICATIONS.retry_later(NOW, timedelta(seconds=30)) == {
        "next_attempt_at": NOW + timedelta(seconds=30)
    }
    assert NOTIFICATIONS.retry_later(NOW, None) == {"status": "failed"}


def test_skip_locked_on_postgresql_nothing_on_sqlite() -> None:
    stmt = (
        select(WebhookDelivery)
        .where(outbox.LeasedTable(WebhookDelivery).claimable(NOW))
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )
    assert "FOR UPDATE OF webhook_delivery SKIP LOCKED" in sql(stmt)
    assert "FOR UPDATE" not in str(stmt.compile(dialect=sqlite.dialect()))
