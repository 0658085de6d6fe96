"""What the login flow keeps between requests: failed attempts and pending OIDC flows.

Both live in the database, not in process memory, so the rate limit and the
single use of an authorization response hold across several app processes.
"""

from __future__ import annotations

import datetime

from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from portal_adapter.models.base import Base
from portal_adapter.models.base import UTCDateTime
from portal_adapter.models.base import utcnow


class LoginAttempt(Base):
    """One counted login attempt (a failure, or a use of the bypass link)."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(320))
    """What is limited: ``user:<username case-folded>``, ``addr:<client address>`` or
    ``bypass:<client address>``."""
    at: Mapped[datetime.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class OidcLoginFlow(Base):
    """A started authorization-code flow, consumed (deleted) by its callback: single use."""

    __tablename__ = "oidc_login_flows"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of the ``state`` value; the browser session holds the state itself."""
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    """The PKCE verifier (RFC 7636); the provider only ever saw its S256 challenge."""
    next_path: Mapped[str] = mapped_column(String(2048), default="/")
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime(), default=utcnow)
