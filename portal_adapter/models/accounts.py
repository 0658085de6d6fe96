"""Portal accounts, their roles and their browser sessions."""

from __future__ import annotations

import datetime
import enum

from sqlalchemy import Boolean
from sqlalchemy import Enum
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from portal_adapter.models.base import Base
from portal_adapter.models.base import UTCDateTime
from portal_adapter.models.base import utcnow


class Role(enum.StrEnum):
    """Portal roles, lowest to highest (the order of the members is the order of power).

    - ``read_only``: sees the organizations mapped from their groups; changes nothing.
    - ``technician``: as read_only, and works on alerts and devices of those organizations.
    - ``administrator``: manages non-superuser accounts, groups and organizations.
    - ``superuser``: everything, including roles and the integration settings.
    """

    read_only = "read_only"
    technician = "technician"
    administrator = "administrator"
    superuser = "superuser"

    @property
    def rank(self) -> int:
        """The position of the role, 0 for the lowest."""
        return list(Role).index(self)

    def at_least(self, other: Role) -> bool:
        """Tell whether this role is ``other`` or higher."""
        return self.rank >= other.rank


class AccountStatus(enum.StrEnum):
    """Whether an account may sign in."""

    active = "active"
    disabled = "disabled"


class AccountSource(enum.StrEnum):
    """Where an account comes from."""

    local = "local"
    provider = "provider"


class CreatedBy(enum.StrEnum):
    """How an account came to exist."""

    jit_scim = "jit_scim"
    jit_login = "jit_login"
    administrator = "administrator"


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, validate_strings=True, length=32)


class Account(Base):
    """A person's account in the portal."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(255))
    username_ci: Mapped[str] = mapped_column(String(255), unique=True)
    """The username case-folded: usernames are unique regardless of case."""
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    display_name: Mapped[str | None] = mapped_column(String(255), default=None)
    role: Mapped[Role] = mapped_column(_enum(Role), default=Role.read_only)
    status: Mapped[AccountStatus] = mapped_column(
        _enum(AccountStatus), default=AccountStatus.active
    )
    source: Mapped[AccountSource] = mapped_column(_enum(AccountSource), default=AccountSource.local)
    created_by: Mapped[CreatedBy] = mapped_column(_enum(CreatedBy), default=CreatedBy.administrator)
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    """An argon2 hash of the local password; None when the account cannot log in locally."""
    deactivated_at_provider: Mapped[bool] = mapped_column(Boolean, default=False)
    """Flag "deactivated at the provider — action needed", set when deprovisioning is off."""
    disabled_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    owns_retained_data: Mapped[bool] = mapped_column(Boolean, default=False)
    """The account owns data the portal must keep: it can be disabled, never deleted."""
    provider_subject: Mapped[str | None] = mapped_column(String(255), index=True, default=None)
    """The provider's subject (externalId / OIDC ``sub``) last linked to the account.

    Kept when the provider identity row is deleted, so a re-created identity or a
    login with the same subject finds the same person again.
    """
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime(), default=None)

    @property
    def is_active(self) -> bool:
        """Whether the account may hold a session."""
        return self.status is AccountStatus.active

    @property
    def has_local_password(self) -> bool:
        """Whether the account has a local password at all."""
        return self.password_hash is not None


class LoginSession(Base):
    """A browser session; revoking the row ends the session on its next request."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """A random opaque identifier stored in the signed session cookie."""
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[str] = mapped_column(String(32))
    """How the session was opened: ``oidc``, ``local`` or ``bypass``."""
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime(), default=None)
    id_token_hint: Mapped[str | None] = mapped_column(String(4096), default=None)
    """Kept for RP-initiated logout only; never logged."""
