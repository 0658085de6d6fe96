"""Write and read the audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from portal_adapter.models import AuditEvent

SECRET_KEYS = frozenset(
    {"password", "password_hash", "token", "token_hash", "secret", "bypass_secret"}
)
"""Keys never written to the audit log, whatever their value."""


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: str | None = None,
    level: str = "info",
    request_id: str | None = None,
) -> AuditEvent:
    """Add one audit event to the session (the caller's transaction commits it)."""
    event = AuditEvent(
        actor=actor,
        action=action,
        target=target,
        before=scrub(before),
        after=scrub(after),
        detail=detail[:1024] if detail else None,
        level=level,
        request_id=request_id,
    )
    session.add(event)
    return event


def scrub(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return ``summary`` without any secret-bearing key, recursively."""
    if summary is None:
        return None
    return {
        key: scrub(value) if isinstance(value, dict) else value
        for key, value in summary.items()
        if key.lower() not in SECRET_KEYS
    }
