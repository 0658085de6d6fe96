"""Settings sync with the provider (DESIGN.md rule 7): outbox, status, retries."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal_adapter import integration
from portal_adapter import settings_sync
from portal_adapter.errors import RuleViolation
from portal_adapter.models import SyncOutboxEntry
from portal_adapter.models import SyncStatus
from portal_adapter.models import utcnow
from tests.portal_adapter.test_provisioning_builders import configure


def entries(session: Session) -> list[SyncOutboxEntry]:
    return list(session.scalars(select(SyncOutboxEntry).order_by(SyncOutboxEntry.id)))


def test_a_portal_change_is_queued_for_the_provider_and_shows_pending(session: Session) -> None:
    configure(session, auto_create_users=True)
    queued = entries(session)
    assert len(queued) == 1
    assert queued[0].settings["auto_create_users"] is True
    assert queued[0].revision == integration.get_settings(session).revision
    assert integration.read_settings(session).sync_status is SyncStatus.pending


def test_a_successful_push_sends_the_newest_snapshot_and_marks_everything_synced(
    session: Session,
) -> None:
    configure(session)
    integration.update_settings(session, {"auto_create_users": True}, actor="test")
    sent: list[dict[str, Any]] = []
    row = integration.get_settings(session)
    report = settings_sync.push_pending(session, row, send=sent.append)
    assert [payload["revision"] for payload in sent] == [row.revision]
    assert sent[0]["settings"]["auto_create_users"] is True
    assert (report.pushed, report.superseded) == (1, 1)
    assert {e.status for e in entries(session)} == {SyncStatus.synced}
    assert row.sync_status is SyncStatus.synced


def test_a_failed_push_shows_failed_and_is_retried_only_when_due(session: Session) -> None:
    configure(session)
    row = integration.get_settings(session)

    def refuse(payload: dict[str, Any]) -> None:
        raise settings_sync.SyncError("the provider answered HTTP 503")

    now = utcnow()
    report = settings_sync.push_pending(session, row, send=refuse, now=now)
    assert report.failed == 1 and row.sync_status is SyncStatus.failed
    entry = entries(session)[0]
    assert entry.last_error == "the provider answered HTTP 503"
    assert entry.next_attempt_at == now + settings_sync.BASE_DELAY
    sent: list[dict[str, Any]] = []
    assert settings_sync.push_pending(session, row, send=sent.append, now=now).pushed == 0
    later = now + settings_sync.BASE_DELAY
    assert settings_sync.push_pending(session, row, send=sent.append, now=later).pushed == 1
    assert row.sync_status is SyncStatus.synced and entry.attempts == 2


def test_after_the_last_attempt_an_entry_stays_failed(session: Session) -> None:
    configure(session)
    row = integration.get_settings(session)

    def refuse(payload: dict[str, Any]) -> None:
        raise settings_sync.SyncError("down")

    when = utcnow()
    for _ in range(settings_sync.MAX_ATTEMPTS):
        settings_sync.push_pending(session, row, send=refuse, now=when)
        when += settings_sync.MAX_DELAY
    sent: list[dict[str, Any]] = []
    settings_sync.push_pending(session, row, send=sent.append, now=when)
    assert sent == []
    assert entries(session)[0].status is SyncStatus.failed
    assert entries(session)[0].attempts == settings_sync.MAX_ATTEMPTS


def test_the_retry_delay_doubles_and_is_capped() -> None:
    assert settings_sync.retry_delay(1) == datetime.timedelta(seconds=30)
    assert settings_sync.retry_delay(2) == datetime.timedelta(seconds=60)
    assert settings_sync.retry_delay(20) == settings_sync.MAX_DELAY


def test_a_provider_side_change_is_applied_under_the_same_rules_and_not_pushed_back(
    session: Session,
) -> None:
    configure(session)
    integration.update_settings(session, {"auto_create_users": True}, actor="test")
    integration.apply_provider_settings(session, {"auto_deprovision": True}, actor="scim:k1")
    assert integration.read_settings(session).auto_deprovision is True
    assert integration.read_settings(session).sync_status is SyncStatus.synced
    assert all(e.status is SyncStatus.failed for e in entries(session))
    sent: list[dict[str, Any]] = []
    settings_sync.push_pending(session, integration.get_settings(session), send=sent.append)
    assert sent == []
    with pytest.raises(RuleViolation):
        integration.apply_provider_settings(session, {"default_role": "superuser"}, actor="scim:k1")


@pytest.mark.postgres
def test_concurrent_settings_changes_each_get_their_own_revision(app: Any) -> None:
    """The settings row is locked for a change: no two changes read the same revision."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.conftest import POSTGRES_URL

    if not POSTGRES_URL:
        pytest.skip("needs UNIVIEW_TEST_DATABASE_URL (PostgreSQL)")
    from scim_server.extensions import db

    with app.app_context():
        integration.update_settings(db.session, {"unified_login": True}, actor="test")
        db.session.commit()

    def change(i: int) -> None:
        with app.app_context():
            integration.update_settings(db.session, {"sso_exceptions": [f"user{i}"]}, actor="t")
            db.session.commit()
            db.session.remove()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(change, range(16)))
    with app.app_context():
        assert integration.get_settings(db.session).revision == 17
        revisions = sorted(e.revision for e in db.session.scalars(select(SyncOutboxEntry)))
        assert revisions == list(range(1, 18))
