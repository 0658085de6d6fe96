"""Groups in the portal: manual groups beside provider groups, members, import status.

Manual groups belong to the portal: administrators create, rename, delete them and edit
their members. Provider groups belong to the identity provider while access groups are
on: their names and members change only over SCIM (or the login refresh), and an edit
here raises :class:`~portal_adapter.errors.Conflict` "managed by KaseyaOne"; their
organization mapping stays editable. While access groups are off, the provider groups
the SCIM layer keeps receiving are held out of sight (they appear when the setting turns
on), and the ones that existed when it turned off became manual groups
(:func:`portal_adapter.access.on_access_groups_disabled`).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import aliased

from portal_adapter import audit
from portal_adapter.access import access_groups_active
from portal_adapter.access import insert_memberships
from portal_adapter.errors import Conflict
from portal_adapter.errors import NotFound
from portal_adapter.integration import get_settings
from portal_adapter.models import Account
from portal_adapter.models import AuditEvent
from portal_adapter.models import Group
from portal_adapter.models import GroupMembership
from portal_adapter.models import GroupSource
from portal_adapter.models import MembershipSource
from portal_adapter.models import Organization
from portal_adapter.models import OrganizationGroup
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import utcnow
from portal_adapter.names import clean_name

MANAGED_BY_PROVIDER = "managed by KaseyaOne"
"""The words of the read-only refusal; clients and tests look for them."""
MAX_PAGE = 1000
DEFAULT_PAGE = 100
RECENT_ERRORS = 20
ERROR_WINDOW = datetime.timedelta(days=7)
"""Provider errors and warnings of this long ago at most are reported with the status."""


@dataclass(frozen=True)
class GroupPage:
    """One page of groups, with the organizations each is mapped to."""

    groups: list[Group]
    organizations: dict[str, list[Organization]]
    total: int
    access_groups: bool
    """Whether access groups are on: the page's provider groups are then read-only."""

    def is_read_only(self, group: Group) -> bool:
        """Tell whether a group of this page is read-only (no query per group)."""
        return self.access_groups and group.source is GroupSource.provider


@dataclass(frozen=True)
class Member:
    """One member of a group: an account, or a provider identity not linked yet."""

    membership_id: int
    source: MembershipSource
    account_id: int | None
    username: str | None
    identity_id: str | None


@dataclass(frozen=True)
class ImportError_:
    """A provider error worth showing next to the import status."""

    at: datetime.datetime
    action: str
    target: str | None
    detail: str | None


@dataclass(frozen=True)
class GroupsImportStatus:
    """What the provider sent so far, so an administrator can follow the first import."""

    access_groups: bool
    groups_received: int
    memberships_received: int
    mapped_groups: int
    last_provider_activity_at: datetime.datetime | None
    last_group_change_at: datetime.datetime | None
    errors: list[ImportError_]


def is_read_only(session: Session, group: Group) -> bool:
    """Tell whether the group's name and members belong to the provider now."""
    return group.source is GroupSource.provider and access_groups_active(session)


def ensure_editable(session: Session, group: Group) -> None:
    """Refuse to change a provider group's name or members while access groups are on.

    :raises Conflict: When the group is read-only in the portal.
    """
    if is_read_only(session, group):
        raise Conflict(
            f"group {group.display_name!r} is {MANAGED_BY_PROVIDER}: change its name and "
            "members in KaseyaOne (its organization mapping stays editable here)"
        )


def get_group(session: Session, group_id: str) -> Group:
    """Return a group the portal shows.

    :raises NotFound: When there is no such group, or it is a provider group held while
        access groups are off.
    """
    group = session.get(Group, group_id)
    if group is None or (
        group.source is GroupSource.provider and not access_groups_active(session)
    ):
        raise NotFound(f"no group {group_id}")
    return group


def list_groups(
    session: Session,
    *,
    source: GroupSource | None = None,
    offset: int = 0,
    limit: int = MAX_PAGE,
) -> GroupPage:
    """Return one page of the groups the portal shows, by name, with their organizations."""
    limit = max(0, min(limit, MAX_PAGE))
    active = access_groups_active(session)
    clauses = [] if active else [Group.source == GroupSource.manual]
    if source is not None:
        clauses.append(Group.source == source)
    total = session.scalar(select(func.count()).select_from(Group).where(*clauses)) or 0
    groups = list(
        session.scalars(
            select(Group)
            .where(*clauses)
            .order_by(Group.display_name_ci, Group.id)
            .offset(max(0, offset))
            .limit(limit)
        )
    )
    return GroupPage(
        groups=groups,
        organizations=organizations_of_groups(session, [g.id for g in groups]),
        total=int(total),
        access_groups=active,
    )


def organizations_of_groups(
    session: Session, group_ids: Sequence[str]
) -> dict[str, list[Organization]]:
    """Return, for each group id, the organizations it is mapped to, by name."""
    mapped: dict[str, list[Organization]] = {group_id: [] for group_id in group_ids}
    if not group_ids:
        return mapped
    rows = session.execute(
        select(OrganizationGroup.group_id, Organization)
        .join(Organization, Organization.id == OrganizationGroup.organization_id)
        .where(OrganizationGroup.group_id.in_(list(group_ids)))
        .order_by(Organization.name_ci)
    )
    for group_id, organization in rows:
        mapped[group_id].append(organization)
    return mapped


def _ensure_unique_manual_name(session: Session, name: str, *, except_id: str | None) -> None:
    clash = session.scalar(
        select(Group.id).where(
            Group.source == GroupSource.manual,
            Group.display_name_ci == name.casefold(),
            Group.id != (except_id or ""),
        )
    )
    if clash is not None:
        raise Conflict(f"a manual group named {name!r} already exists")


def create_group(session: Session, display_name: object, *, actor: str) -> Group:
    """Create a manual group.

    :raises InvalidInput: When the name is empty or too long.
    :raises Conflict: When a manual group already has that name (case-insensitively).
    """
    name = clean_name(display_name, field="display_name")
    _ensure_unique_manual_name(session, name, except_id=None)
    group = Group(display_name=name, display_name_ci=name.casefold(), source=GroupSource.manual)
    session.add(group)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="group.create",
        target=f"group:{group.id}",
        after={"display_name": name, "source": "manual"},
    )
    return group


def rename_group(session: Session, group: Group, display_name: object, *, actor: str) -> bool:
    """Rename a group; return whether the name changed.

    :raises Conflict: When the group is managed by the provider, or the name is taken.
    :raises InvalidInput: When the name is empty or too long.
    """
    name = clean_name(display_name, field="display_name")
    if name == group.display_name:
        # An unchanged name is no edit: a client sending the whole group back to change
        # its mapping is not refused.
        return False
    ensure_editable(session, group)
    _ensure_unique_manual_name(session, name, except_id=group.id)
    audit.record(
        session,
        actor=actor,
        action="group.rename",
        target=f"group:{group.id}",
        before={"display_name": group.display_name},
        after={"display_name": name},
    )
    group.display_name = name
    group.display_name_ci = name.casefold()
    _touch(group)
    session.flush()
    return True


def delete_group(session: Session, group: Group, *, actor: str) -> None:
    """Delete a group; its organization mappings are audited before they go.

    :raises Conflict: When the group is managed by the provider (only a SCIM DELETE
        removes a provider group).
    """
    ensure_editable(session, group)
    _audit_removal(session, group, actor=actor, action="group.delete")
    session.delete(group)
    session.flush()


def on_provider_group_deleting(session: Session, group: Group, *, actor: str) -> None:
    """The SCIM layer is about to delete a provider group: audit what goes with it.

    Called inside the SCIM DELETE's transaction, before the row is deleted; the
    organization mappings and memberships then go by cascade.
    """
    _audit_removal(session, group, actor=actor, action="group.provider_delete")


def _audit_removal(session: Session, group: Group, *, actor: str, action: str) -> None:
    organizations = organizations_of_groups(session, [group.id])[group.id]
    audit.record(
        session,
        actor=actor,
        action=action,
        target=f"group:{group.id}",
        before={
            "display_name": group.display_name,
            "source": group.source.value,
            "external_id": group.external_id,
            "members": member_count(session, group),
            "organizations": [
                {"id": organization.id, "name": organization.name} for organization in organizations
            ],
        },
    )


def _touch(group: Group) -> None:
    group.version += 1
    group.last_modified = utcnow()


def member_count(session: Session, group: Group) -> int:
    """Return how many members the group has (an index count, no row is loaded)."""
    count = session.scalar(
        select(func.count())
        .select_from(GroupMembership)
        .where(GroupMembership.group_id == group.id)
    )
    return int(count or 0)


def list_members(
    session: Session, group: Group, *, offset: int = 0, limit: int = MAX_PAGE
) -> list[Member]:
    """Return one page of the group's members, oldest first."""
    identity = aliased(ProviderIdentity)
    account = aliased(Account)
    rows = session.execute(
        select(
            GroupMembership.id,
            GroupMembership.source,
            account.id,
            account.username,
            GroupMembership.identity_id,
        )
        .outerjoin(identity, identity.id == GroupMembership.identity_id)
        .outerjoin(
            account,
            account.id == func.coalesce(GroupMembership.account_id, identity.account_id),
        )
        .where(GroupMembership.group_id == group.id)
        .order_by(GroupMembership.id)
        .offset(max(0, offset))
        .limit(max(0, min(limit, MAX_PAGE)))
    )
    return [
        Member(
            membership_id=membership_id,
            source=MembershipSource(source),
            account_id=account_id,
            username=username,
            identity_id=identity_id,
        )
        for membership_id, source, account_id, username, identity_id in rows
    ]


def add_member(session: Session, group: Group, account: Account, *, actor: str) -> bool:
    """Add the account to the group by hand; return whether it was not a member yet.

    A member through its provider identity counts as a member already.

    :raises Conflict: When the group is managed by the provider.
    """
    ensure_editable(session, group)
    if _membership_of(session, group, account) is not None:
        return False
    added = insert_memberships(
        session,
        [
            {
                "group_id": group.id,
                "account_id": account.id,
                "source": MembershipSource.manual.value,
                "display": account.username,
                "created_at": utcnow(),
            }
        ],
    )
    if not added:
        # Another request added it in between.
        return False
    _touch(group)
    audit.record(
        session,
        actor=actor,
        action="group.member_add",
        target=f"group:{group.id}",
        after={"account": account.username},
    )
    session.flush()
    return True


def remove_member(session: Session, group: Group, account: Account, *, actor: str) -> bool:
    """Remove the account from the group; return whether it was a member.

    :raises Conflict: When the group is managed by the provider.
    """
    ensure_editable(session, group)
    membership = _membership_of(session, group, account)
    if membership is None:
        return False
    session.execute(delete(GroupMembership).where(GroupMembership.id == membership))
    _touch(group)
    audit.record(
        session,
        actor=actor,
        action="group.member_remove",
        target=f"group:{group.id}",
        before={"account": account.username},
    )
    session.flush()
    return True


def _membership_of(session: Session, group: Group, account: Account) -> int | None:
    """The id of the account's membership row in the group (by account or identity)."""
    identity_ids = select(ProviderIdentity.id).where(ProviderIdentity.account_id == account.id)
    return session.scalar(
        select(GroupMembership.id)
        .where(
            GroupMembership.group_id == group.id,
            or_(
                GroupMembership.account_id == account.id,
                GroupMembership.identity_id.in_(identity_ids),
            ),
        )
        .limit(1)
    )


def import_status(session: Session) -> GroupsImportStatus:
    """Return what the provider sent so far (groups, memberships, activity, errors)."""
    provider_group = Group.source == GroupSource.provider
    groups_received = session.scalar(select(func.count()).select_from(Group).where(provider_group))
    memberships = session.scalar(
        select(func.count())
        .select_from(GroupMembership)
        .join(Group, Group.id == GroupMembership.group_id)
        .where(provider_group, GroupMembership.source == MembershipSource.provider)
    )
    mapped = session.scalar(
        select(func.count(func.distinct(OrganizationGroup.group_id)))
        .join(Group, Group.id == OrganizationGroup.group_id)
        .where(provider_group)
    )
    last_change = session.scalar(select(func.max(Group.last_modified)).where(provider_group))
    # A range on the indexed ``at`` column bounds the scan however long the log grows.
    since = utcnow() - ERROR_WINDOW
    errors = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.at >= since,
            AuditEvent.level.in_(("error", "warning")),
            AuditEvent.actor.startswith("scim:"),
        )
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(RECENT_ERRORS)
    )
    return GroupsImportStatus(
        access_groups=access_groups_active(session),
        groups_received=int(groups_received or 0),
        memberships_received=int(memberships or 0),
        mapped_groups=int(mapped or 0),
        last_provider_activity_at=get_settings(session).last_provider_activity_at
        or _aware(last_change),
        last_group_change_at=_aware(last_change),
        errors=[
            ImportError_(at=event.at, action=event.action, target=event.target, detail=event.detail)
            for event in errors
        ],
    )


def _aware(value: datetime.datetime | None) -> datetime.datetime | None:
    """``max()`` bypasses the column type on SQLite, which then returns a naive UTC time."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=datetime.UTC)
    return value
