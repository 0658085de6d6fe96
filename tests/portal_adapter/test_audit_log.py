"""The audit log's browse and export functions (DESIGN.md rule 8), without HTTP."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from sqlalchemy.orm import Session

from portal_adapter import audit
from portal_adapter import audit_log
from portal_adapter.errors import InvalidInput
from portal_adapter.models import AuditEvent
from portal_adapter.models import utcnow


def seed(session: Session) -> datetime.datetime:
    start = utcnow() - datetime.timedelta(hours=3)
    rows = [
        ("scim:k1", "account.create", "account:ann", 0),
        ("account:root", "account.disable", "account:ann", 1),
        ("account:root", "integration.update", "integration:settings", 2),
    ]
    for actor, action, target, hours in rows:
        event = audit.record(session, actor=actor, action=action, target=target)
        event.at = start + datetime.timedelta(hours=hours)
    session.flush()
    return start


def test_filters_by_actor_action_family_target_and_time(session: Session) -> None:
    start = seed(session)

    def actions(**criteria: object) -> list[str]:
        page = audit_log.query_events(session, audit_log.AuditFilter(**criteria))  # type: ignore[arg-type]
        return [e.action for e in page.items]

    assert actions(actor="root") == ["integration.update", "account.disable"]
    assert actions(action="account.") == ["account.disable", "account.create"]
    assert actions(action="account.create") == ["account.create"]
    assert actions(target="ann") == ["account.disable", "account.create"]
    since = start + datetime.timedelta(minutes=30)
    assert actions(since=since, until=since + datetime.timedelta(hours=1)) == ["account.disable"]


def test_pages_are_newest_first_with_an_exact_total(session: Session) -> None:
    seed(session)
    page = audit_log.query_events(session, audit_log.AuditFilter(), offset=1, limit=1)
    assert page.total == 3 and [e.action for e in page.items] == ["account.disable"]


def test_a_filter_value_with_sql_wildcards_matches_literally(session: Session) -> None:
    seed(session)
    page = audit_log.query_events(session, audit_log.AuditFilter(actor="%"))
    assert page.total == 0


def test_the_csv_export_is_oldest_first_and_holds_every_column(session: Session) -> None:
    seed(session)
    text = "".join(audit_log.events_to_csv(audit_log.iter_events(session, audit_log.AuditFilter())))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["action"] for r in rows] == [
        "account.create",
        "account.disable",
        "integration.update",
    ]
    assert set(rows[0]) == set(audit_log.CSV_FIELDS)


def test_no_secret_ever_lands_in_the_audit_log(session: Session) -> None:
    event = audit.record(
        session,
        actor="cli",
        action="x",
        before={"password": "p", "nested": {"token": "t", "ok": 1}},
        after={"bypass_secret": "s"},
    )
    assert event.before == {"nested": {"ok": 1}} and event.after == {}
    assert isinstance(event, AuditEvent)


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01"])
def test_a_bad_time_filter_is_refused_with_a_clear_message(value: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        audit_log.parse_time("since", value)
    assert "ISO 8601" in refused.value.detail


def test_query_arguments_become_a_filter_and_blank_ones_do_not_filter() -> None:
    criteria = audit_log.args_to_filter(
        {"actor": "  account:root ", "action": "", "target": "   ", "since": "2026-01-31T12:00:00Z"}
    )
    assert criteria == audit_log.AuditFilter(
        actor="account:root",
        since=datetime.datetime(2026, 1, 31, 12, tzinfo=datetime.UTC),
    )
    with pytest.raises(InvalidInput):
        audit_log.args_to_filter({"until": "yesterday"})
