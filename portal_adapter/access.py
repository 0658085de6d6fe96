"""Groups -> organizations -> what an account may see (product rule 5).

An account's groups are its manual memberships (by account) united with its provider
memberships (through its linked provider identity). Provider groups count only while
access groups are on; a group mapped to no organization shows no data; superusers see
every organization.

Every query here is a join or an ``EXISTS`` driven by the account's own membership rows
(indexed by ``account_id`` / ``identity_id``), so a provider group of 50k members costs
the same as one of ten: no membership list is ever loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import union
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm import aliased

from portal_adapter import audit
from portal_adapter.integration import get_settings
from portal_adapter.models import Account
from portal_adapter.models import Group
from portal_adapter.models import GroupMembership
from portal_adapter.models import GroupSource
from portal_adapter.models import MembershipSource
from portal_adapter.models import Organization
from portal_adapter.models import OrganizationGroup
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import Role
from portal_adapter.models import utcnow


def access_groups_active(session: Session) -> bool:
    """Tell whether provider groups decide access now.

    The setting only counts while unified login is on (product rule 1: turning unified
    login off turns every other setting off).
    """
    settings = get_settings(session)
    return bool(settings.access_groups and settings.unified_login)


def _account_group_ids(account_id: int) -> Select[tuple[str]]:
    """The ids of every group the account is a member of, whatever the group's source.

    A UNION of two index look-ups, rather than an ``OR``, so both databases plan an index
    search on each side (``account_id``; ``provider_identities.account_id`` then
    ``identity_id``).
    """
    by_account = select(GroupMembership.group_id).where(GroupMembership.account_id == account_id)
    by_identity = (
        select(GroupMembership.group_id)
        .join(ProviderIdentity, ProviderIdentity.id == GroupMembership.identity_id)
        .where(ProviderIdentity.account_id == account_id)
    )
    return select(union(by_account, by_identity).subquery().c[0])


def _counting_groups(session: Session) -> list[ColumnElement[bool]]:
    """The WHERE clauses on ``Group`` that keep only groups that grant access now."""
    if access_groups_active(session):
        return []
    return [Group.source == GroupSource.manual]


def groups_for(session: Session, account: Account) -> list[Group]:
    """Return the account's groups that count now, by name.

    Provider groups are left out while access groups are off: the provider's groups do
    not decide anything then (they are held, and appear when the setting turns on).
    """
    statement = (
        select(Group)
        .where(Group.id.in_(_account_group_ids(account.id)), *_counting_groups(session))
        .order_by(Group.display_name_ci, Group.id)
    )
    return list(session.scalars(statement))


def _visible_organizations_clause(session: Session, account: Account) -> list[ColumnElement[bool]]:
    """WHERE clauses on ``Organization`` that keep only what ``account`` sees.

    An ``IN`` driven from the account's few groups (not an ``EXISTS`` per organization),
    so the cost follows the account's memberships, not the number of organizations.
    """
    if account.role is Role.superuser:
        return []
    mapped = (
        select(OrganizationGroup.organization_id)
        .join(Group, Group.id == OrganizationGroup.group_id)
        .where(
            OrganizationGroup.group_id.in_(_account_group_ids(account.id)),
            *_counting_groups(session),
        )
    )
    return [Organization.id.in_(mapped)]


def organizations_for(session: Session, account: Account) -> list[Organization]:
    """Return the organizations whose data ``account`` sees, by name.

    Superusers see all; otherwise the organizations mapped to one of the account's
    counting groups. No group, or groups mapped to nothing: an empty list.
    """
    statement = (
        select(Organization)
        .where(*_visible_organizations_clause(session, account))
        .order_by(Organization.name_ci)
    )
    return list(session.scalars(statement))


def can_see_organization(session: Session, account: Account, organization_id: int) -> bool:
    """Tell whether ``account`` sees the organization (False too when it does not exist)."""
    statement = select(
        exists().where(
            Organization.id == organization_id,
            *_visible_organizations_clause(session, account),
        )
    )
    return bool(session.scalar(statement))


def refresh_provider_groups(
    session: Session, account: Account, group_names: Sequence[str], *, actor: str
) -> bool:
    """Make the account's provider memberships match the groups claim of a login.

    Names match provider groups by display name (case-insensitively) or by externalId;
    names matching no provider group are ignored, since groups come from the provider's
    SCIM push, not from a claim. Only provider memberships of provider groups are added
    or removed: manual groups and manual memberships are never touched. The caller does
    not call this when the claim is absent (an absent claim changes nothing).

    It runs whatever the access-groups setting: provider memberships mirror the
    provider, and only count while the setting is on.

    Return whether anything changed.
    """
    identity_id = session.scalar(
        select(ProviderIdentity.id).where(ProviderIdentity.account_id == account.id)
    )
    if identity_id is None:
        # Provider memberships name the provider identity; without one there is nothing
        # the provider could own for this account.
        return False
    names_ci = {name.casefold() for name in group_names if name}
    names = {name for name in group_names if name}
    wanted: set[str] = set()
    if names:
        wanted = set(
            session.scalars(
                select(Group.id).where(
                    Group.source == GroupSource.provider,
                    or_(Group.display_name_ci.in_(names_ci), Group.external_id.in_(names)),
                )
            )
        )
    held: dict[str, int] = {
        group_id: membership_id
        for group_id, membership_id in session.execute(
            select(GroupMembership.group_id, GroupMembership.id)
            .join(Group, Group.id == GroupMembership.group_id)
            .where(
                GroupMembership.identity_id == identity_id,
                GroupMembership.source == MembershipSource.provider,
                Group.source == GroupSource.provider,
            )
        )
    }
    to_add = sorted(wanted - set(held))
    to_remove = sorted(set(held) - wanted)
    if not to_add and not to_remove:
        return False
    if to_add:
        insert_memberships(
            session,
            [
                {
                    "group_id": group_id,
                    "identity_id": identity_id,
                    "source": MembershipSource.provider.value,
                    "display": account.username,
                    "created_at": utcnow(),
                }
                for group_id in to_add
            ],
        )
    if to_remove:
        session.execute(
            delete(GroupMembership).where(
                GroupMembership.id.in_([held[group_id] for group_id in to_remove])
            )
        )
    _touch_groups(session, [*to_add, *to_remove])
    audit.record(
        session,
        actor=actor,
        action="access.login_groups_refreshed",
        target=f"account:{account.username}",
        after={"added": to_add, "removed": to_remove},
    )
    session.flush()
    return True


GROUPS_CLAIM = "groups"
"""The ID token / userinfo claim that lists the person's groups at the provider."""


def refresh_provider_groups_from_claims(
    session: Session,
    account: Account,
    claims: Mapping[str, Any],
    *,
    actor: str,
    claim_name: str = GROUPS_CLAIM,
) -> bool:
    """Refresh the account's provider groups from a login's claims, if they carry groups.

    An absent claim changes nothing: providers leave it out when it is not configured
    or too large, which says nothing about membership. An empty list removes every
    provider membership (never a manual one). A single string counts as one name.
    Return whether anything changed.
    """
    if claim_name not in claims or claims[claim_name] is None:
        return False
    value = claims[claim_name]
    if isinstance(value, str):
        names: list[str] = [value]
    elif isinstance(value, list | tuple):
        names = [str(item) for item in value if isinstance(item, str | int)]
    else:
        return False
    return refresh_provider_groups(session, account, names, actor=actor)


def insert_memberships(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert membership rows, skipping any that already exist; return how many were new.

    A login refresh can race a SCIM PATCH adding the same member: ``ON CONFLICT DO
    NOTHING`` against the pair's unique constraint lets both succeed.
    """
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    # RETURNING rather than rowcount: the count of a multi-row insert is not reported
    # reliably by every driver, and only the rows really inserted come back.
    inserted = session.scalars(
        module.insert(GroupMembership)
        .values(list(rows))
        .on_conflict_do_nothing()
        .returning(GroupMembership.id)
    ).all()
    return len(inserted)


def _touch_groups(session: Session, group_ids: Sequence[str]) -> None:
    """Bump the version of changed groups so SCIM ETags change with their members."""
    if not group_ids:
        return
    session.execute(
        update(Group)
        .where(Group.id.in_(group_ids))
        .values(version=Group.version + 1, last_modified=utcnow())
    )


def on_access_groups_enabled(session: Session, *, actor: str) -> int:
    """Access groups just turned on: the provider groups already held count at once.

    Nothing is copied or converted: provider groups and their memberships are rows the
    SCIM layer kept up to date all along, and every read filters on the setting. The
    event is audited with what was received so far; return that number of groups.
    """
    groups = session.scalar(
        select(func.count()).select_from(Group).where(Group.source == GroupSource.provider)
    )
    audit.record(
        session,
        actor=actor,
        action="access_groups.enabled",
        target="integration:access_groups",
        after={"provider_groups": int(groups or 0)},
    )
    session.flush()
    return int(groups or 0)


def on_access_groups_disabled(session: Session, *, actor: str) -> int:
    """Access groups just turned off: provider groups become manual groups in place.

    Memberships and organization mappings are kept. A provider membership becomes a
    manual membership of the linked account; one of a still-pending identity stays on
    the identity (it counts once the identity is linked) but becomes manual too. The
    group leaves the provider's reach: its externalId moves into the payload
    (``formerExternalId``) so a later push of the same group creates a new provider
    group instead of editing what the portal now owns. Return how many groups changed.
    """
    converted = list(
        session.execute(
            select(Group.id, Group.display_name, Group.external_id).where(
                Group.source == GroupSource.provider
            )
        )
    )
    if not converted:
        return 0
    session.flush()
    group_ids = [group_id for group_id, _, _ in converted]
    linked_account = (
        select(ProviderIdentity.account_id)
        .where(ProviderIdentity.id == GroupMembership.identity_id)
        # Correlated to the updated row even inside the EXISTS below, whose own FROM
        # would otherwise capture it.
        .correlate(GroupMembership)
        .scalar_subquery()
    )
    other = aliased(GroupMembership)
    already_member = exists().where(
        other.group_id == GroupMembership.group_id, other.account_id == linked_account
    )
    moved = session.execute(
        update(GroupMembership)
        .where(
            GroupMembership.group_id.in_(group_ids),
            GroupMembership.source == MembershipSource.provider,
            linked_account.is_not(None),
            ~already_member,
        )
        .values(account_id=linked_account, identity_id=None, source=MembershipSource.manual)
        .execution_options(synchronize_session=False)
    )
    kept = session.execute(
        update(GroupMembership)
        .where(
            GroupMembership.group_id.in_(group_ids),
            GroupMembership.source == MembershipSource.provider,
        )
        .values(source=MembershipSource.manual)
        .execution_options(synchronize_session=False)
    )
    # The bulk updates bypassed the identity map; reload any membership it holds.
    for held in list(session.identity_map.values()):
        if isinstance(held, GroupMembership):
            session.expire(held)
    for group in session.scalars(select(Group).where(Group.id.in_(group_ids))):
        payload = dict(group.payload or {})
        if group.external_id is not None:
            payload["formerExternalId"] = group.external_id
        group.payload = payload
        group.external_id = None
        group.source = GroupSource.manual
        group.version += 1
        group.last_modified = utcnow()
    audit.record(
        session,
        actor=actor,
        action="access_groups.disabled",
        target="integration:access_groups",
        after={
            "groups_converted": len(converted),
            "memberships_converted": _rowcount(moved) + _rowcount(kept),
            "groups": [name for _, name, _ in converted[:AUDIT_LIST_LIMIT]],
        },
    )
    session.flush()
    return len(converted)


AUDIT_LIST_LIMIT = 200
"""At most this many names are listed in one audit event (the count is always exact)."""


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
