"""Group membership rows: add and remove only the rows named, whatever the group's size.

Concurrent PATCHes from a provider must never lose a member, so adds are
``INSERT ... ON CONFLICT DO NOTHING`` against the (group, identity) unique
constraint and removes delete by key; nothing reads the group's members.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from portal_adapter import audit
from portal_adapter.models import GroupMembership
from portal_adapter.models import MembershipSource
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import utcnow


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(GroupMembership)


def add_members(
    session: Session, group_id: str, members: Iterable[tuple[str, str | None]], *, actor: str
) -> int:
    """Add members by identity id; return how many rows were new.

    An id naming no user is not stored and is audited as a warning: the RFC does
    not require validating member ids, and testers send made-up ones.
    """
    wanted: dict[str, str | None] = {}
    for value, display in members:
        wanted.setdefault(value, display)
    if not wanted:
        return 0
    known = set(
        session.scalars(select(ProviderIdentity.id).where(ProviderIdentity.id.in_(list(wanted))))
    )
    unknown = [value for value in wanted if value not in known]
    if unknown:
        audit.record(
            session,
            actor=actor,
            action="scim.group.member_unknown",
            target=f"group:{group_id}",
            detail="ignored member ids naming no user: " + ", ".join(sorted(unknown)[:20]),
            level="warning",
        )
    if not known:
        return 0
    now = utcnow()
    rows = [
        {
            "group_id": group_id,
            "identity_id": value,
            "source": MembershipSource.provider.value,
            "display": wanted[value],
            "created_at": now,
        }
        for value in wanted
        if value in known
    ]
    statement = _insert(session).values(rows).on_conflict_do_nothing()
    result = session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


def remove_members(session: Session, group_id: str, values: Iterable[str]) -> int:
    """Remove the named members only; return how many rows went."""
    ids = list(dict.fromkeys(values))
    if not ids:
        return 0
    result = session.execute(
        delete(GroupMembership).where(
            GroupMembership.group_id == group_id,
            GroupMembership.identity_id.in_(ids),
            GroupMembership.source == MembershipSource.provider,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def remove_all_members(session: Session, group_id: str) -> int:
    """Remove every provider member of a group (``remove`` of ``members`` without a filter)."""
    result = session.execute(
        delete(GroupMembership).where(
            GroupMembership.group_id == group_id,
            GroupMembership.source == MembershipSource.provider,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def replace_members(
    session: Session, group_id: str, members: Iterable[tuple[str, str | None]], *, actor: str
) -> None:
    """Make the provider members exactly ``members`` (PUT, or a ``replace`` of members)."""
    wanted = dict(members)
    current: set[str | None] = set(
        session.scalars(
            select(GroupMembership.identity_id).where(
                GroupMembership.group_id == group_id,
                GroupMembership.source == MembershipSource.provider,
            )
        )
    )
    remove_members(
        session, group_id, [value for value in current if value is not None and value not in wanted]
    )
    add_members(
        session, group_id, [(v, d) for v, d in wanted.items() if v not in current], actor=actor
    )


def count_members_up_to(session: Session, group_id: str, limit: int) -> int:
    """Count a group's members, stopping at ``limit`` (bounded cost on huge groups).

    A count, not a read of the rows: it walks at most ``limit`` index entries and
    builds no Python row, so a member PATCH on a group of 50,000 stays cheap.
    """
    inner = (
        select(GroupMembership.id)
        .where(GroupMembership.group_id == group_id, GroupMembership.identity_id.is_not(None))
        .limit(limit)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def members_of(session: Session, group_id: str) -> list[tuple[str, str | None]]:
    """The (identity id, display) of every member of a group, oldest first.

    Plain rows, not ORM objects: a large group is thousands of them.
    """
    query = (
        select(GroupMembership.identity_id, GroupMembership.display)
        .where(GroupMembership.group_id == group_id, GroupMembership.identity_id.is_not(None))
        .order_by(GroupMembership.id)
    )
    return [(str(identity_id), display) for identity_id, display in session.execute(query)]
