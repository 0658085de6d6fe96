"""The integration's settings (one row), SCIM tokens and the settings-sync outbox."""

from __future__ import annotations

import datetime
import enum
from typing import Any

from sqlalchemy import Boolean
from sqlalchemy import Enum
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from portal_adapter.models.accounts import Role
from portal_adapter.models.base import Base
from portal_adapter.models.base import JSONDocument
from portal_adapter.models.base import UTCDateTime
from portal_adapter.models.base import utcnow


class DeprovisionAction(enum.StrEnum):
    """What a DELETE at the provider does to the account."""

    disable = "disable"
    delete = "delete"


class SyncStatus(enum.StrEnum):
    """Where the last settings change stands with the provider."""

    synced = "synced"
    pending = "pending"
    failed = "failed"


class IntegrationSettings(Base):
    """The KaseyaOne integration's settings; a single row with id 1."""

    __tablename__ = "integration_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), default="KaseyaOne")
    installed: Mapped[bool] = mapped_column(Boolean, default=False)
    """Whether the integration was added (a reset removes it)."""
    unified_login: Mapped[bool] = mapped_column(Boolean, default=False)
    require_sso: Mapped[bool] = mapped_column(Boolean, default=False)
    sso_exceptions: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    """Usernames (case-folded) still allowed a local password while require_sso is on."""
    auto_create_users: Mapped[bool] = mapped_column(Boolean, default=False)
    default_role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=32), default=Role.read_only
    )
    auto_deprovision: Mapped[bool] = mapped_column(Boolean, default=False)
    deprovision_action: Mapped[DeprovisionAction] = mapped_column(
        Enum(DeprovisionAction, native_enum=False, length=16), default=DeprovisionAction.disable
    )
    access_groups: Mapped[bool] = mapped_column(Boolean, default=False)
    bypass_secret: Mapped[str | None] = mapped_column(String(128), default=None)
    """The secret of the bypass link; shown to superusers, so kept retrievable."""
    revision: Mapped[int] = mapped_column(Integer, default=0)
    sync_status: Mapped[SyncStatus] = mapped_column(
        Enum(SyncStatus, native_enum=False, length=16), default=SyncStatus.synced
    )
    last_provider_activity_at: Mapped[datetime.datetime | None] = mapped_column(
        UTCDateTime(), default=None
    )
    updated_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ScimToken(Base):
    """A bearer token the provider uses on /scim/v2; only its SHA-256 is stored."""

    __tablename__ = "scim_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    """The first characters of the token, to recognise it in a list."""
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime(), default=None)
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime(), default=None)


class SyncOutboxEntry(Base):
    """A settings change waiting to be pushed to the provider, with its retries."""

    __tablename__ = "sync_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    status: Mapped[SyncStatus] = mapped_column(
        Enum(SyncStatus, native_enum=False, length=16), default=SyncStatus.pending
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(1024), default=None)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime(), default=utcnow)
