"""Push settings changes to the provider through an outbox (DESIGN.md rule 7).

Each portal-side change queues a full snapshot of the settings. A periodic job
(``uniview-idm integration sync``, safe to run from any replica) pushes the newest due
snapshot with a transport it is given; failures are retried with a growing delay and
stay visible as ``sync_status``. The module does no I/O itself.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal_adapter import audit
from portal_adapter.models import IntegrationSettings
from portal_adapter.models import SyncOutboxEntry
from portal_adapter.models import SyncStatus
from portal_adapter.models import utcnow

MAX_ATTEMPTS = 8
"""After this many failed pushes an entry stays ``failed`` until a newer change."""
BASE_DELAY = datetime.timedelta(seconds=30)
MAX_DELAY = datetime.timedelta(hours=1)


class SyncError(Exception):
    """The transport could not deliver a snapshot (the message is shown and stored)."""


Transport = Callable[[dict[str, Any]], None]
"""Delivers ``{"revision": n, "settings": {...}}`` to the provider or raises SyncError."""


@dataclass(frozen=True)
class SyncReport:
    """What one push run did."""

    pushed: int
    failed: int
    superseded: int
    status: SyncStatus


def enqueue(
    session: Session, row: IntegrationSettings, snapshot: dict[str, Any]
) -> SyncOutboxEntry:
    """Queue ``snapshot`` (the effective settings at ``row.revision``) for the provider."""
    entry = SyncOutboxEntry(revision=row.revision, settings=dict(snapshot))
    session.add(entry)
    row.sync_status = SyncStatus.pending
    session.flush()
    return entry


def supersede_pending(session: Session, row: IntegrationSettings) -> int:
    """Drop queued portal changes older than a change that came from the provider.

    The provider already holds the newest state; pushing an older snapshot would undo
    it. Return how many entries were dropped.
    """
    count = 0
    for entry in _unsent(session):
        entry.status = SyncStatus.failed
        entry.attempts = MAX_ATTEMPTS
        entry.last_error = f"superseded by the provider's change (revision {row.revision})"
        count += 1
    row.sync_status = SyncStatus.synced
    session.flush()
    return count


def _unsent(session: Session) -> list[SyncOutboxEntry]:
    return list(
        session.scalars(
            select(SyncOutboxEntry)
            .where(
                SyncOutboxEntry.status.in_([SyncStatus.pending, SyncStatus.failed]),
                SyncOutboxEntry.attempts < MAX_ATTEMPTS,
            )
            .order_by(SyncOutboxEntry.id)
        )
    )


def retry_delay(attempts: int) -> datetime.timedelta:
    """The wait before the next try after ``attempts`` failures: doubling, capped."""
    delay: datetime.timedelta = BASE_DELAY * (2 ** max(attempts - 1, 0))
    return min(delay, MAX_DELAY)


def push_pending(
    session: Session,
    row: IntegrationSettings,
    *,
    send: Transport,
    now: datetime.datetime | None = None,
) -> SyncReport:
    """Push the newest unsent snapshot if it is due; older unsent ones are contained in it.

    Sets ``row.sync_status``: ``synced`` on success, ``failed`` after a failed try (the
    entry is retried later, up to MAX_ATTEMPTS), ``pending`` while waiting.
    """
    now = now or utcnow()
    unsent = _unsent(session)
    if not unsent:
        return SyncReport(pushed=0, failed=0, superseded=0, status=SyncStatus(row.sync_status))
    newest = unsent[-1]
    if newest.next_attempt_at > now:
        return SyncReport(pushed=0, failed=0, superseded=0, status=SyncStatus(row.sync_status))
    newest.attempts += 1
    try:
        send({"revision": newest.revision, "settings": newest.settings})
    except SyncError as error:
        newest.status = SyncStatus.failed
        newest.last_error = str(error)[:1024]
        newest.next_attempt_at = now + retry_delay(newest.attempts)
        row.sync_status = SyncStatus.failed
        audit.record(
            session,
            actor="system",
            action="integration.sync_failed",
            target="integration:settings",
            detail=f"revision {newest.revision}, attempt {newest.attempts}: {error}",
            level="warning",
        )
        session.flush()
        return SyncReport(pushed=0, failed=1, superseded=0, status=SyncStatus.failed)
    newest.status = SyncStatus.synced
    newest.last_error = None
    for older in unsent[:-1]:
        older.status = SyncStatus.synced
        older.last_error = f"contained in revision {newest.revision}"
    row.sync_status = SyncStatus.synced
    audit.record(
        session,
        actor="system",
        action="integration.sync",
        target="integration:settings",
        detail=f"revision {newest.revision} pushed to the provider",
    )
    session.flush()
    return SyncReport(pushed=1, failed=0, superseded=len(unsent) - 1, status=SyncStatus.synced)


def list_entries(session: Session, *, limit: int = 20) -> list[SyncOutboxEntry]:
    """Return the newest outbox entries, newest first."""
    return list(
        session.scalars(select(SyncOutboxEntry).order_by(SyncOutboxEntry.id.desc()).limit(limit))
    )


def entry_to_dict(entry: SyncOutboxEntry) -> dict[str, Any]:
    """Return a JSON-ready summary of one entry."""
    return {
        "id": entry.id,
        "revision": entry.revision,
        "status": SyncStatus(entry.status).value,
        "attempts": entry.attempts,
        "next_attempt_at": entry.next_attempt_at.isoformat(),
        "last_error": entry.last_error,
        "created_at": entry.created_at.isoformat(),
    }
