"""What the identity provider pushed: SCIM Users and Groups, stored as received."""

from __future__ import annotations

import datetime
import enum
from typing import Any

from sqlalchemy import Boolean
from sqlalchemy import Enum
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from portal_adapter.models.base import Base
from portal_adapter.models.base import JSONDocument
from portal_adapter.models.base import UTCDateTime
from portal_adapter.models.base import new_uuid
from portal_adapter.models.base import utcnow


class IdentityStatus(enum.StrEnum):
    """Where a provider identity stands against the portal's accounts."""

    pending = "pending"
    """Received, no account yet (automatic creation off): an administrator decides."""
    linked = "linked"
    """Linked to an account."""


class GroupSource(enum.StrEnum):
    """Where a group comes from."""

    manual = "manual"
    provider = "provider"


class MembershipSource(enum.StrEnum):
    """Who added a membership: provider updates touch only their own."""

    manual = "manual"
    provider = "provider"


class ProviderIdentity(Base):
    """A SCIM User as the provider pushed it, and its link to a portal account.

    ``payload`` holds the whole resource as received (every attribute round-trips);
    the other columns are projected from it for lookups and uniqueness.
    """

    __tablename__ = "provider_identities"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_uuid)
    """The SCIM ``id``."""
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True, default=None)
    """The provider's id for the person, equal to the OIDC ``sub``: the linking key."""
    user_name: Mapped[str] = mapped_column(String(255))
    user_name_ci: Mapped[str] = mapped_column(String(255), unique=True)
    """userName is case-insensitive (RFC 7643 §4.1.1): unique once case-folded."""
    display_name: Mapped[str | None] = mapped_column(String(255), default=None)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[IdentityStatus] = mapped_column(
        Enum(IdentityStatus, native_enum=False, length=16), default=IdentityStatus.pending
    )
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), unique=True, default=None
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_modified: Mapped[datetime.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Group(Base):
    """A group: created by hand in the portal, or pushed by the provider over SCIM."""

    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_uuid)
    """The SCIM ``id`` for provider groups; an opaque id for manual ones."""
    display_name: Mapped[str] = mapped_column(String(255))
    display_name_ci: Mapped[str] = mapped_column(String(255), index=True)
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True, default=None)
    source: Mapped[GroupSource] = mapped_column(
        Enum(GroupSource, native_enum=False, length=16), default=GroupSource.manual
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    """The SCIM Group as received, without ``members`` (members are rows)."""
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_modified: Mapped[datetime.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GroupMembership(Base):
    """One member of one group, as a row: concurrent provider PATCHes never lose one.

    Provider memberships name the provider identity (SCIM members are Users); manual
    memberships name the account directly.
    """

    __tablename__ = "group_memberships"
    __table_args__ = (
        UniqueConstraint("group_id", "identity_id", name="uq_group_memberships_group_identity"),
        UniqueConstraint("group_id", "account_id", name="uq_group_memberships_group_account"),
        # An account's manual groups, for visibility (portal_adapter.access). Partial:
        # nearly every row is a provider membership with a NULL account_id, and SQLite's
        # ANALYZE counts those NULLs as one value, after which it scans the table rather
        # than use a full index on account_id.
        Index(
            "ix_group_memberships_account_group",
            "account_id",
            "group_id",
            sqlite_where=text("account_id IS NOT NULL"),
            postgresql_where=text("account_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    identity_id: Mapped[str | None] = mapped_column(
        ForeignKey("provider_identities.id", ondelete="CASCADE"), index=True, default=None
    )
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True, default=None
    )
    source: Mapped[MembershipSource] = mapped_column(
        Enum(MembershipSource, native_enum=False, length=16)
    )
    display: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime(), default=utcnow)
