"""Organizations: CRUD, their group mapping, and who may read which."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal_adapter import organizations
from portal_adapter.access import organizations_for
from portal_adapter.errors import Conflict
from portal_adapter.errors import InvalidInput
from portal_adapter.errors import NotFound
from portal_adapter.models import AuditEvent
from portal_adapter.models import GroupSource
from portal_adapter.models import Organization
from portal_adapter.models import OrganizationGroup
from portal_adapter.models import Role
from tests.portal_adapter.test_access_builders import add_manual_member
from tests.portal_adapter.test_access_builders import add_provider_member
from tests.portal_adapter.test_access_builders import new_group
from tests.portal_adapter.test_access_builders import new_organization
from tests.portal_adapter.test_access_builders import set_access_groups
from tests.portal_adapter.test_provisioning_builders import add_account
from tests.portal_adapter.test_provisioning_builders import add_identity

ACTOR = "account:admin"


def test_an_organization_is_created_mapped_renamed_and_deleted_with_an_audit_trail(
    session: Session,
) -> None:
    staff = new_group(session, "Staff", source=GroupSource.manual)
    acme = organizations.create_organization(session, " Acme ", group_ids=[staff.id], actor=ACTOR)
    assert acme.name == "Acme"
    assert [g.display_name for g in organizations.groups_of(session, acme)] == ["Staff"]

    assert organizations.rename_organization(session, acme, "Acme Corp", actor=ACTOR) is True
    assert organizations.set_groups(session, acme, [], actor=ACTOR) is True
    assert organizations.set_groups(session, acme, [], actor=ACTOR) is False
    organization_id = acme.id
    organizations.delete_organization(session, acme, actor=ACTOR)

    assert session.get(Organization, organization_id) is None
    actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == [
        "organization.create",
        "organization.map_groups",
        "organization.rename",
        "organization.map_groups",
        "organization.delete",
    ]


def test_organization_names_are_unique_regardless_of_case(session: Session) -> None:
    organizations.create_organization(session, "Acme", actor=ACTOR)

    with pytest.raises(Conflict):
        organizations.create_organization(session, "ACME", actor=ACTOR)


@pytest.mark.parametrize("group_ids", ["abc", [1], ["no-such-group"]])
def test_mapping_refuses_anything_but_existing_group_ids(
    session: Session, group_ids: object
) -> None:
    acme = organizations.create_organization(session, "Acme", actor=ACTOR)

    with pytest.raises(InvalidInput):
        organizations.set_groups(session, acme, group_ids, actor=ACTOR)


def test_a_provider_groups_mapping_stays_editable_while_access_groups_are_on(
    session: Session,
) -> None:
    set_access_groups(session, on=True)
    alice = add_account(session, "alice")
    sales = new_group(session, "Sales")
    add_provider_member(session, sales, add_identity(session, "alice", account=alice))
    acme = new_organization(session, "Acme")
    globex = new_organization(session, "Globex")

    assert organizations.set_groups(session, acme, [sales.id], actor=ACTOR) is True
    assert [o.name for o in organizations_for(session, alice)] == ["Acme"]
    assert organizations.set_group_organizations(session, sales, [globex.id], actor=ACTOR)
    assert [o.name for o in organizations_for(session, alice)] == ["Globex"]


def test_mapping_a_group_from_its_side_refuses_unknown_organizations(session: Session) -> None:
    staff = new_group(session, "Staff", source=GroupSource.manual)

    with pytest.raises(InvalidInput):
        organizations.set_group_organizations(session, staff, [12345], actor=ACTOR)
    with pytest.raises(InvalidInput):
        organizations.set_group_organizations(session, staff, [True], actor=ACTOR)


def test_deleting_an_organization_drops_its_mappings_and_audits_them(session: Session) -> None:
    staff = new_group(session, "Staff", source=GroupSource.manual)
    acme = new_organization(session, "Acme", [staff])

    organizations.delete_organization(session, acme, actor=ACTOR)

    assert session.scalars(select(OrganizationGroup)).all() == []
    event = session.scalars(select(AuditEvent)).one()
    assert event.before == {"name": "Acme", "group_ids": [staff.id]}


class TestReading:
    """Who may read which organization record."""

    def test_an_account_reads_only_the_organizations_it_sees(self, session: Session) -> None:
        alice = add_account(session, "alice", role=Role.technician)
        staff = new_group(session, "Staff", source=GroupSource.manual)
        add_manual_member(session, staff, alice)
        acme = new_organization(session, "Acme", [staff])
        globex = new_organization(session, "Globex")

        assert organizations.organizations_listed_for(session, alice) == [acme]
        assert organizations.get_organization(session, alice, acme.id) is acme
        with pytest.raises(NotFound):
            organizations.get_organization(session, alice, globex.id)

    def test_an_unseen_organization_and_a_missing_one_answer_alike(self, session: Session) -> None:
        alice = add_account(session, "alice")
        globex = new_organization(session, "Globex")

        with pytest.raises(NotFound) as unseen:
            organizations.get_organization(session, alice, globex.id)
        with pytest.raises(NotFound) as missing:
            organizations.get_organization(session, alice, globex.id + 1000)

        assert str(unseen.value).replace(str(globex.id), "N") == str(missing.value).replace(
            str(globex.id + 1000), "N"
        )

    @pytest.mark.parametrize("role", [Role.administrator, Role.superuser])
    def test_administrators_manage_every_organization_record(
        self, session: Session, role: Role
    ) -> None:
        admin = add_account(session, "admin", role=role)
        acme = new_organization(session, "Acme")

        assert organizations.organizations_listed_for(session, admin) == [acme]
        assert organizations.get_organization(session, admin, acme.id) is acme
