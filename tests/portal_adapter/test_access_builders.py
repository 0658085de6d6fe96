"""Group and organization builders for the access-group tests (domain and API); no test here.

Provider groups and memberships are written by the SCIM layer in production; the tests
insert the same rows directly so each rule is pinned without HTTP. Accounts and provider
identities come from ``tests.portal_adapter.test_provisioning_builders``.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from portal_adapter.integration import get_settings
from portal_adapter.models import Account
from portal_adapter.models import Group
from portal_adapter.models import GroupMembership
from portal_adapter.models import GroupSource
from portal_adapter.models import MembershipSource
from portal_adapter.models import Organization
from portal_adapter.models import OrganizationGroup
from portal_adapter.models import ProviderIdentity


def new_group(
    session: Session,
    name: str,
    *,
    source: GroupSource = GroupSource.provider,
    external_id: str | None = None,
) -> Group:
    """Add a group (a provider group unless told otherwise)."""
    group = Group(
        display_name=name,
        display_name_ci=name.casefold(),
        source=source,
        external_id=external_id,
        payload={"displayName": name} if source is GroupSource.provider else {},
    )
    session.add(group)
    session.flush()
    return group


def add_provider_member(session: Session, group: Group, identity: ProviderIdentity) -> None:
    """Add a provider membership, as a SCIM PATCH would."""
    session.add(
        GroupMembership(
            group_id=group.id, identity_id=identity.id, source=MembershipSource.provider
        )
    )
    session.flush()


def add_manual_member(session: Session, group: Group, account: Account) -> None:
    """Add a manual membership, as an administrator would."""
    session.add(
        GroupMembership(group_id=group.id, account_id=account.id, source=MembershipSource.manual)
    )
    session.flush()


def new_organization(session: Session, name: str, groups: Iterable[Group] = ()) -> Organization:
    """Add an organization mapped to ``groups``."""
    organization = Organization(name=name, name_ci=name.casefold())
    session.add(organization)
    session.flush()
    for group in groups:
        session.add(OrganizationGroup(organization_id=organization.id, group_id=group.id))
    session.flush()
    return organization


def set_access_groups(session: Session, *, on: bool, unified_login: bool = True) -> None:
    """Write the settings row directly (the settings rules are the adapter issue's)."""
    settings = get_settings(session)
    settings.unified_login = unified_login
    settings.access_groups = on
    session.flush()
