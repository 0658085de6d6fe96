"""Organizations (the MSP's customers) and the groups mapped to them."""

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


class Organization(Base):
    """A customer whose data accounts may see through their groups."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    name_ci: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OrganizationGroup(Base):
    """A group mapped to an organization: its members see the organization."""

    __tablename__ = "organization_groups"
    __table_args__ = (
        UniqueConstraint("organization_id", "group_id", name="uq_organization_groups_pair"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
