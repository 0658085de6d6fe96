"""Manual groups beside provider groups; read-only rule; deletion audit; import status."""

from __future__ import annotations

import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal_adapter import audit
from portal_adapter import groups
from portal_adapter.errors import Conflict
from portal_adapter.errors import InvalidInput
from portal_adapter.errors import NotFound
from portal_adapter.integration import get_settings
from portal_adapter.models import AuditEvent
from portal_adapter.models import Group
from portal_adapter.models import GroupSource
from portal_adapter.models import MembershipSource
from portal_adapter.models import utcnow
from tests.portal_adapter.test_access_builders import add_manual_member
from tests.portal_adapter.test_access_builders import add_provider_member
from tests.portal_adapter.test_access_builders import new_group
from tests.portal_adapter.test_access_builders import new_organization
from tests.portal_adapter.test_access_builders import set_access_groups
from tests.portal_adapter.test_provisioning_builders import add_account
from tests.portal_adapter.test_provisioning_builders import add_identity

ACTOR = "account:admin"


def test_manual_groups_are_created_renamed_and_deleted_with_an_audit_trail(
    session: Session,
) -> None:
    group = groups.create_group(session, "  Staff ", actor=ACTOR)
    assert (group.display_name, group.source) == ("Staff", GroupSource.manual)

    assert groups.rename_group(session, group, "Field staff", actor=ACTOR) is True
    assert groups.rename_group(session, group, "Field staff", actor=ACTOR) is False
    group_id = group.id
    groups.delete_group(session, group, actor=ACTOR)

    assert session.get(Group, group_id) is None
    actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == ["group.create", "group.rename", "group.delete"]


@pytest.mark.parametrize("name", ["", "   ", None, 42, "x" * 256])
def test_a_group_name_must_be_a_short_non_empty_string(session: Session, name: object) -> None:
    with pytest.raises(InvalidInput):
        groups.create_group(session, name, actor=ACTOR)


def test_two_manual_groups_cannot_share_a_name_but_a_provider_group_may(
    session: Session,
) -> None:
    new_group(session, "Sales")
    groups.create_group(session, "Sales", actor=ACTOR)

    with pytest.raises(Conflict):
        groups.create_group(session, "SALES", actor=ACTOR)


def test_manual_members_are_added_and_removed_idempotently(session: Session) -> None:
    alice = add_account(session, "alice")
    group = groups.create_group(session, "Staff", actor=ACTOR)

    assert groups.add_member(session, group, alice, actor=ACTOR) is True
    assert groups.add_member(session, group, alice, actor=ACTOR) is False
    members = groups.list_members(session, group)
    assert [(m.username, m.source) for m in members] == [("alice", MembershipSource.manual)]
    assert groups.member_count(session, group) == 1

    assert groups.remove_member(session, group, alice, actor=ACTOR) is True
    assert groups.remove_member(session, group, alice, actor=ACTOR) is False
    assert groups.list_members(session, group) == []


class TestReadOnlyRule:
    """While access groups are on, provider groups' names and members are the provider's."""

    @pytest.fixture
    def provider_group(self, session: Session) -> Group:
        set_access_groups(session, on=True)
        return new_group(session, "Sales")

    def test_renaming_a_provider_group_while_access_groups_are_on_is_refused(
        self, session: Session, provider_group: Group
    ) -> None:
        with pytest.raises(Conflict, match="managed by KaseyaOne"):
            groups.rename_group(session, provider_group, "Renamed", actor=ACTOR)
        assert provider_group.display_name == "Sales"

    def test_sending_a_provider_group_its_own_name_is_not_an_edit(
        self, session: Session, provider_group: Group
    ) -> None:
        assert groups.rename_group(session, provider_group, "Sales", actor=ACTOR) is False

    def test_editing_provider_group_members_while_access_groups_are_on_is_refused(
        self, session: Session, provider_group: Group
    ) -> None:
        alice = add_account(session, "alice")
        add_provider_member(session, provider_group, add_identity(session, "bob"))

        with pytest.raises(Conflict, match="managed by KaseyaOne"):
            groups.add_member(session, provider_group, alice, actor=ACTOR)
        with pytest.raises(Conflict, match="managed by KaseyaOne"):
            groups.remove_member(session, provider_group, alice, actor=ACTOR)
        assert groups.member_count(session, provider_group) == 1

    def test_deleting_a_provider_group_while_access_groups_are_on_is_refused(
        self, session: Session, provider_group: Group
    ) -> None:
        with pytest.raises(Conflict, match="managed by KaseyaOne"):
            groups.delete_group(session, provider_group, actor=ACTOR)
        assert session.get(Group, provider_group.id) is not None

    def test_manual_groups_stay_editable_beside_provider_groups(
        self, session: Session, provider_group: Group
    ) -> None:
        alice = add_account(session, "alice")
        manual = groups.create_group(session, "Staff", actor=ACTOR)

        assert groups.is_read_only(session, provider_group) is True
        assert groups.is_read_only(session, manual) is False
        assert groups.add_member(session, manual, alice, actor=ACTOR) is True
        assert groups.rename_group(session, manual, "Staff 2", actor=ACTOR) is True

    def test_read_only_enforcement_is_nothing_once_access_groups_are_off(
        self, session: Session, provider_group: Group
    ) -> None:
        from portal_adapter.access import on_access_groups_disabled

        alice = add_account(session, "alice")
        set_access_groups(session, on=False)
        on_access_groups_disabled(session, actor=ACTOR)

        group = groups.get_group(session, provider_group.id)
        assert groups.is_read_only(session, group) is False
        assert groups.rename_group(session, group, "Sales EU", actor=ACTOR) is True
        assert groups.add_member(session, group, alice, actor=ACTOR) is True
        groups.delete_group(session, group, actor=ACTOR)


def test_provider_groups_are_listed_beside_manual_groups_with_their_source(
    session: Session,
) -> None:
    set_access_groups(session, on=True)
    provider = new_group(session, "Sales")
    manual = groups.create_group(session, "Staff", actor=ACTOR)
    organization = new_organization(session, "Acme", [provider])

    page = groups.list_groups(session)

    assert [(g.display_name, g.source) for g in page.groups] == [
        ("Sales", GroupSource.provider),
        ("Staff", GroupSource.manual),
    ]
    assert page.total == 2
    assert page.organizations[provider.id] == [organization]
    assert page.organizations[manual.id] == []
    only_manual = groups.list_groups(session, source=GroupSource.manual)
    assert [g.display_name for g in only_manual.groups] == ["Staff"]


def test_provider_groups_received_while_access_groups_are_off_are_held_out_of_sight(
    session: Session,
) -> None:
    set_access_groups(session, on=False)
    held = new_group(session, "Sales")
    groups.create_group(session, "Staff", actor=ACTOR)

    assert [g.display_name for g in groups.list_groups(session).groups] == ["Staff"]
    with pytest.raises(NotFound):
        groups.get_group(session, held.id)

    set_access_groups(session, on=True)
    assert [g.display_name for g in groups.list_groups(session).groups] == ["Sales", "Staff"]


def test_listing_groups_pages_by_name(session: Session) -> None:
    for name in ["d", "b", "a", "c"]:
        groups.create_group(session, name, actor=ACTOR)

    page = groups.list_groups(session, offset=1, limit=2)

    assert [g.display_name for g in page.groups] == ["b", "c"]
    assert page.total == 4


def test_members_list_names_accounts_behind_provider_identities(session: Session) -> None:
    set_access_groups(session, on=True)
    alice = add_account(session, "alice")
    group = new_group(session, "Sales")
    add_provider_member(session, group, add_identity(session, "alice", account=alice))
    pending = add_identity(session, "pending")
    add_provider_member(session, group, pending)

    members = groups.list_members(session, group)

    assert [(m.account_id, m.username, m.identity_id) for m in members] == [
        (alice.id, "alice", members[0].identity_id),
        (None, None, pending.id),
    ]
    assert {m.source for m in members} == {MembershipSource.provider}


def test_a_provider_group_deletion_audits_its_organization_mappings_first(
    session: Session,
) -> None:
    set_access_groups(session, on=True)
    group = new_group(session, "Sales", external_id="grp-sales")
    add_provider_member(session, group, add_identity(session, "bob"))
    acme = new_organization(session, "Acme", [group])

    groups.on_provider_group_deleting(session, group, actor="scim:kaseya")
    session.flush()

    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "group.provider_delete")
    ).one()
    assert event.actor == "scim:kaseya"
    assert event.before["organizations"] == [{"id": acme.id, "name": "Acme"}]
    assert event.before["members"] == 1
    assert event.before["external_id"] == "grp-sales"


def test_a_manual_group_delete_audits_its_mappings_and_drops_them(session: Session) -> None:
    alice = add_account(session, "alice")
    group = groups.create_group(session, "Staff", actor=ACTOR)
    add_manual_member(session, group, alice)
    new_organization(session, "Acme", [group])

    groups.delete_group(session, group, actor=ACTOR)

    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "group.delete")).one()
    assert event.before["organizations"][0]["name"] == "Acme"
    from portal_adapter.access import organizations_for

    assert organizations_for(session, alice) == []


def test_import_status_reports_groups_memberships_activity_and_provider_errors(
    session: Session,
) -> None:
    set_access_groups(session, on=True)
    sales = new_group(session, "Sales")
    support = new_group(session, "Support")
    groups.create_group(session, "Staff", actor=ACTOR)
    for n in range(3):
        add_provider_member(session, sales, add_identity(session, f"user{n}"))
    add_provider_member(session, support, add_identity(session, "other"))
    new_organization(session, "Acme", [sales])
    activity = utcnow() - datetime.timedelta(minutes=5)
    get_settings(session).last_provider_activity_at = activity
    audit.record(
        session,
        actor="scim:kaseya",
        action="scim.group.member_unknown",
        target=f"group:{sales.id}",
        detail="ignored member ids naming no user: x",
        level="warning",
    )
    audit.record(session, actor=ACTOR, action="group.rename", level="warning")
    session.flush()

    status = groups.import_status(session)

    assert status.access_groups is True
    assert status.groups_received == 2
    assert status.memberships_received == 4
    assert status.mapped_groups == 1
    assert status.last_provider_activity_at == activity
    assert status.last_group_change_at is not None
    assert [e.action for e in status.errors] == ["scim.group.member_unknown"]
