"""The audit trail: every change by the provider, an administrator, a login or a reset."""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from portal_adapter.models.base import Base
from portal_adapter.models.base import JSONDocument
from portal_adapter.models.base import UTCDateTime
from portal_adapter.models.base import utcnow


class AuditEvent(Base):
    """One audited change; ``before``/``after`` are summaries that never hold a secret."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(255), index=True)
    """Who: ``scim:<token name>``, ``account:<username>``, ``cli`` or ``system``."""
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(255), index=True, default=None)
    level: Mapped[str] = mapped_column(String(16), default="info")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, default=None)
    detail: Mapped[str | None] = mapped_column(String(1024), default=None)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
