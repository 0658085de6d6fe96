"""The SCIM attribute-value index: one row per attribute value of a provider resource.

SCIM filters reach into nested and multi-valued attributes (``emails[type eq
"work"].value``) that no fixed set of columns can hold. Each write of a User or a
Group rewrites that resource's rows here, and the SCIM layer turns a filter into
``EXISTS`` subqueries over them, which works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime

from sqlalchemy import Boolean
from sqlalchemy import Float
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from portal_adapter.models.base import Base
from portal_adapter.models.base import UTCDateTime

COMPARABLE_TEXT = Text().with_variant(Text(collation="C"), "postgresql")
"""Text ordered by code point on every backend, as Python compares strings."""


class ScimIndexEntry(Base):
    """One value of one attribute of a SCIM resource, in the form filters compare.

    Only one of the value columns is set, after the attribute's type.
    """

    __tablename__ = "scim_index"
    __table_args__ = (
        Index("ix_scim_index_resource_path", "resource_id", "path"),
        Index("ix_scim_index_path_text", "path", "text_value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(64))
    """The SCIM ``id`` of the User or Group (ids are UUIDs, unique across both)."""
    path: Mapped[str] = mapped_column(String(255))
    """The lower-cased URN-qualified attribute, e.g. ``urn:...:user:emails.value``."""
    element: Mapped[int] = mapped_column(Integer, default=-1)
    """Position in a multi-valued attribute (-1 when single-valued): a value-path
    filter requires all its conditions on the same element."""
    is_sort_value: Mapped[bool] = mapped_column(Boolean, default=True)
    """Whether this row is what sorting uses: single values, and the primary (or
    else first) element of a multi-valued attribute (RFC 7644 §3.4.2.3)."""
    text_value: Mapped[str | None] = mapped_column(COMPARABLE_TEXT, default=None)
    """A string in its comparison form: NFC, lower-cased unless caseExact
    (RFC 7643 §2.3.1). caseExact strings keep their case, so this one column serves
    both; values longer than 1024 characters are cut (filters on them are rare)."""
    number_value: Mapped[float | None] = mapped_column(Float, default=None)
    bool_value: Mapped[bool | None] = mapped_column(Boolean, default=None)
    datetime_value: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime(), default=None)
