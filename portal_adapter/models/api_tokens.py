"""Admin API tokens: scripts call /api/v1 as the account a token is bound to."""

from __future__ import annotations

import datetime

from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from portal_adapter.models.base import Base
from portal_adapter.models.base import UTCDateTime
from portal_adapter.models.base import utcnow


class AdminApiToken(Base):
    """A bearer token for the admin API; only its SHA-256 is stored.

    It acts with the role of its account at the time of each request, so demoting or
    disabling the account limits or stops the token at once.
    """

    __tablename__ = "admin_api_tokens"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_admin_api_tokens_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    """The first characters of the token, to recognise it in a list."""
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime(), default=None)
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime(), default=None)
