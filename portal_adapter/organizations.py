"""Organizations (the MSP's customers) and the groups mapped to them.

Administrators manage every organization record (name and mapping), since mapping a
newly imported group to an organization is their job; whose *data* an account sees is
:func:`portal_adapter.access.organizations_for`. Read-only accounts and technicians
reach an organization only when they see it, and one they do not see does not exist
for them (``NotFound``, so ids do not leak).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm import Session

from portal_adapter import audit
from portal_adapter.access import can_see_organization
from portal_adapter.access import organizations_for
from portal_adapter.errors import Conflict
from portal_adapter.errors import InvalidInput
from portal_adapter.errors import NotFound
from portal_adapter.models import Account
from portal_adapter.models import Group
from portal_adapter.models import Organization
from portal_adapter.models import OrganizationGroup
from portal_adapter.models import Role
from portal_adapter.names import clean_name

MANAGER_ROLE = Role.administrator
"""From this role up, an account manages (and so lists) every organization record."""


def manages_organizations(account: Account) -> bool:
    """Tell whether the account manages organization records (administrator and up)."""
    return account.role.at_least(MANAGER_ROLE)


def organizations_listed_for(session: Session, account: Account) -> list[Organization]:
    """Return the organizations the account may read in the API, by name."""
    if manages_organizations(account):
        return list(session.scalars(select(Organization).order_by(Organization.name_ci)))
    return organizations_for(session, account)


def get_organization(session: Session, account: Account, organization_id: int) -> Organization:
    """Return an organization the account may read.

    :raises NotFound: When it does not exist or the account does not see it (the same
        answer for both, so guessing ids tells nothing).
    """
    organization = session.get(Organization, organization_id)
    if organization is None or not (
        manages_organizations(account) or can_see_organization(session, account, organization_id)
    ):
        raise NotFound(f"no organization {organization_id}")
    return organization


def groups_of(session: Session, organization: Organization) -> list[Group]:
    """Return the groups mapped to the organization, by name."""
    return list(
        session.scalars(
            select(Group)
            .join(OrganizationGroup, OrganizationGroup.group_id == Group.id)
            .where(OrganizationGroup.organization_id == organization.id)
            .order_by(Group.display_name_ci, Group.id)
        )
    )


def _ensure_unique(session: Session, name: str, *, except_id: int | None) -> None:
    clash = session.scalar(
        select(Organization.id).where(
            Organization.name_ci == name.casefold(), Organization.id != (except_id or 0)
        )
    )
    if clash is not None:
        raise Conflict(f"an organization named {name!r} already exists")


def _group_ids(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput("group_ids must be a list of group ids")
    return sorted(set(value))


def create_organization(
    session: Session, name: object, *, group_ids: object = None, actor: str
) -> Organization:
    """Create an organization, mapped to ``group_ids`` when given.

    :raises InvalidInput: When the name is empty or too long, or a group does not exist.
    :raises Conflict: When an organization already has that name (case-insensitively).
    """
    cleaned = clean_name(name, field="name")
    _ensure_unique(session, cleaned, except_id=None)
    organization = Organization(name=cleaned, name_ci=cleaned.casefold())
    session.add(organization)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="organization.create",
        target=f"organization:{organization.id}",
        after={"name": cleaned},
    )
    if group_ids is not None:
        set_groups(session, organization, group_ids, actor=actor)
    return organization


def rename_organization(
    session: Session, organization: Organization, name: object, *, actor: str
) -> bool:
    """Rename an organization; return whether the name changed.

    :raises InvalidInput: When the name is empty or too long.
    :raises Conflict: When another organization has that name.
    """
    cleaned = clean_name(name, field="name")
    if cleaned == organization.name:
        return False
    _ensure_unique(session, cleaned, except_id=organization.id)
    audit.record(
        session,
        actor=actor,
        action="organization.rename",
        target=f"organization:{organization.id}",
        before={"name": organization.name},
        after={"name": cleaned},
    )
    organization.name = cleaned
    organization.name_ci = cleaned.casefold()
    session.flush()
    return True


def set_groups(
    session: Session, organization: Organization, group_ids: object, *, actor: str
) -> bool:
    """Map exactly ``group_ids`` to the organization; return whether the mapping changed.

    Provider groups may be mapped whatever the access-groups setting: the mapping is the
    portal's, never the provider's.

    :raises InvalidInput: When ``group_ids`` is not a list of existing group ids.
    """
    wanted = _group_ids(group_ids)
    found = set(session.scalars(select(Group.id).where(Group.id.in_(wanted))))
    missing = [group_id for group_id in wanted if group_id not in found]
    if missing:
        raise InvalidInput(f"no such group(s): {', '.join(missing)}")
    held, to_add, to_remove = _replace_pairs(
        session,
        fixed=(OrganizationGroup.organization_id, organization.id),
        varying=OrganizationGroup.group_id,
        wanted=set(wanted),
    )
    if not to_add and not to_remove:
        return False
    audit.record(
        session,
        actor=actor,
        action="organization.map_groups",
        target=f"organization:{organization.id}",
        before={"group_ids": sorted(held)},
        after={"group_ids": wanted, "added": to_add, "removed": to_remove},
    )
    session.flush()
    return True


def set_group_organizations(
    session: Session, group: Group, organization_ids: object, *, actor: str
) -> bool:
    """Map the group to exactly ``organization_ids``; return whether the mapping changed.

    Editable for provider groups too, even while access groups are on.

    :raises InvalidInput: When ``organization_ids`` is not a list of existing ids.
    """
    if not isinstance(organization_ids, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in organization_ids
    ):
        raise InvalidInput("organization_ids must be a list of organization ids")
    wanted = set(organization_ids)
    found = set(session.scalars(select(Organization.id).where(Organization.id.in_(wanted))))
    if wanted - found:
        missing = ", ".join(str(i) for i in sorted(wanted - found))
        raise InvalidInput(f"no such organization(s): {missing}")
    held, to_add, to_remove = _replace_pairs(
        session,
        fixed=(OrganizationGroup.group_id, group.id),
        varying=OrganizationGroup.organization_id,
        wanted=wanted,
    )
    if not to_add and not to_remove:
        return False
    audit.record(
        session,
        actor=actor,
        action="group.map_organizations",
        target=f"group:{group.id}",
        before={"organization_ids": sorted(held)},
        after={"organization_ids": sorted(wanted), "added": to_add, "removed": to_remove},
    )
    session.flush()
    return True


def _mapped_ids(session: Session, organization: Organization) -> Sequence[str]:
    return list(
        session.scalars(
            select(OrganizationGroup.group_id).where(
                OrganizationGroup.organization_id == organization.id
            )
        )
    )


def delete_organization(session: Session, organization: Organization, *, actor: str) -> None:
    """Delete an organization and its mappings, auditing both."""
    audit.record(
        session,
        actor=actor,
        action="organization.delete",
        target=f"organization:{organization.id}",
        before={"name": organization.name, "group_ids": sorted(_mapped_ids(session, organization))},
    )
    session.execute(
        delete(OrganizationGroup).where(OrganizationGroup.organization_id == organization.id)
    )
    session.delete(organization)
    session.flush()


def _replace_pairs(
    session: Session,
    *,
    fixed: tuple[InstrumentedAttribute[Any], Any],
    varying: InstrumentedAttribute[Any],
    wanted: set[Any],
) -> tuple[set[Any], list[Any], list[Any]]:
    """Make the mapping rows whose ``fixed`` column holds ``fixed`` value pair it with exactly
    ``wanted`` values of ``varying``; return (held before, added, removed).

    Both sides of the organization-group mapping edit it the same way, from either end.
    """
    fixed_column, fixed_value = fixed
    held = set(session.scalars(select(varying).where(fixed_column == fixed_value)))
    to_add = sorted(wanted - held)
    to_remove = sorted(held - wanted)
    session.add_all(
        OrganizationGroup(**{fixed_column.key: fixed_value, varying.key: value}) for value in to_add
    )
    if to_remove:
        session.execute(
            delete(OrganizationGroup).where(fixed_column == fixed_value, varying.in_(to_remove))
        )
    return held, to_add, to_remove
