"""Browse and export the audit trail: filters, pagination, CSV (DESIGN.md rule 8)."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal_adapter.accounts import Page
from portal_adapter.errors import InvalidInput
from portal_adapter.models import AuditEvent

CSV_FIELDS = ("at", "actor", "action", "target", "level", "before", "after", "detail", "request_id")
MAX_PAGE = 500
MAX_EXPORT = 100_000


@dataclass(frozen=True)
class AuditFilter:
    """What to look for; every field narrows the result (``actor``/``target``: substring)."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None


def parse_time(name: str, value: str | None) -> datetime.datetime | None:
    """Parse an ISO 8601 time (UTC when no zone is given).

    :raises InvalidInput: When the value is not ISO 8601.
    """
    if not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO 8601 time, e.g. 2026-01-31T12:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def args_to_filter(args: Mapping[str, str]) -> AuditFilter:
    """Read a filter from query arguments (``actor``, ``action``, ``target``, ``since``,
    ``until``); blank ones do not filter.

    :raises InvalidInput: When a time is not ISO 8601.
    """

    def text(name: str) -> str | None:
        return args.get(name, "").strip() or None

    return AuditFilter(
        actor=text("actor"),
        action=text("action"),
        target=text("target"),
        since=parse_time("since", text("since")),
        until=parse_time("until", text("until")),
    )


def _conditions(criteria: AuditFilter) -> list[Any]:
    conditions: list[Any] = []
    if criteria.actor:
        conditions.append(AuditEvent.actor.contains(criteria.actor, autoescape=True))
    if criteria.action:
        # "account." selects a family of actions; "account.create" one action.
        if criteria.action.endswith("."):
            conditions.append(AuditEvent.action.startswith(criteria.action, autoescape=True))
        else:
            conditions.append(AuditEvent.action == criteria.action)
    if criteria.target:
        conditions.append(AuditEvent.target.contains(criteria.target, autoescape=True))
    if criteria.since:
        conditions.append(AuditEvent.at >= criteria.since)
    if criteria.until:
        conditions.append(AuditEvent.at < criteria.until)
    return conditions


def query_events(
    session: Session, criteria: AuditFilter, *, offset: int = 0, limit: int = 50
) -> Page:
    """Return a page of matching events, newest first, with the total count."""
    if limit < 1 or limit > MAX_PAGE or offset < 0:
        raise InvalidInput(f"limit must be 1-{MAX_PAGE} and offset at least 0")
    conditions = _conditions(criteria)
    total = session.scalar(select(func.count(AuditEvent.id)).where(*conditions)) or 0
    items = list(
        session.scalars(
            select(AuditEvent)
            .where(*conditions)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .offset(offset)
            .limit(limit)
        )
    )
    return Page(items=items, total=total, offset=offset, limit=limit)


def iter_events(session: Session, criteria: AuditFilter) -> Iterator[AuditEvent]:
    """Yield matching events oldest first, in batches (for exports)."""
    query = (
        select(AuditEvent)
        .where(*_conditions(criteria))
        .order_by(AuditEvent.at, AuditEvent.id)
        .limit(MAX_EXPORT)
        .execution_options(yield_per=1000)
    )
    yield from session.scalars(query)


def event_to_dict(event: AuditEvent) -> dict[str, Any]:
    """Return the JSON view of one event."""
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "level": event.level,
        "before": event.before,
        "after": event.after,
        "detail": event.detail,
        "request_id": event.request_id,
    }


def events_to_csv(events: Iterable[AuditEvent]) -> Iterator[str]:
    """Render events as CSV lines, header first (streamable)."""
    import json

    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writerow(CSV_FIELDS)
    yield flush()
    for event in events:
        data = event_to_dict(event)
        row = []
        for field in CSV_FIELDS:
            value = data[field]
            if isinstance(value, dict):
                value = json.dumps(value, sort_keys=True)
            if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
                value = "'" + value
            row.append(value)
        writer.writerow(row)
        yield flush()
