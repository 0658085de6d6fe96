"""Product rule 5: groups -> organizations -> what an account sees; the login refresh."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session

from portal_adapter import access
from portal_adapter.models import Account
from portal_adapter.models import AuditEvent
from portal_adapter.models import GroupMembership
from portal_adapter.models import GroupSource
from portal_adapter.models import MembershipSource
from portal_adapter.models import Role
from tests.portal_adapter.test_access_builders import add_manual_member
from tests.portal_adapter.test_access_builders import add_provider_member
from tests.portal_adapter.test_access_builders import new_group
from tests.portal_adapter.test_access_builders import new_organization
from tests.portal_adapter.test_access_builders import set_access_groups
from tests.portal_adapter.test_provisioning_builders import add_account
from tests.portal_adapter.test_provisioning_builders import add_identity


def names(organizations: list) -> list[str]:  # type: ignore[type-arg]
    return [organization.name for organization in organizations]


def memberships_of(session: Session, group_id: str) -> list[tuple[str | None, int | None, str]]:
    rows = session.execute(
        select(
            GroupMembership.identity_id, GroupMembership.account_id, GroupMembership.source
        ).where(GroupMembership.group_id == group_id)
    )
    return sorted(
        ((i, a, MembershipSource(s).value) for i, a, s in rows), key=lambda row: repr(row)
    )


def test_an_account_sees_the_organizations_mapped_from_its_manual_groups(session: Session) -> None:
    alice = add_account(session, "alice")
    staff = new_group(session, "Staff", source=GroupSource.manual)
    add_manual_member(session, staff, alice)
    new_organization(session, "Acme", [staff])
    new_organization(session, "Globex")

    assert names(access.organizations_for(session, alice)) == ["Acme"]
    assert [g.display_name for g in access.groups_for(session, alice)] == ["Staff"]


def test_an_account_sees_organizations_of_its_provider_groups_while_access_groups_are_on(
    session: Session,
) -> None:
    set_access_groups(session, on=True)
    alice = add_account(session, "alice")
    sales = new_group(session, "Sales")
    add_provider_member(session, sales, add_identity(session, "alice", account=alice))
    new_organization(session, "Acme", [sales])
    new_organization(session, "Initech", [sales])
    new_organization(session, "Globex")

    assert names(access.organizations_for(session, alice)) == ["Acme", "Initech"]
    assert [g.source for g in access.groups_for(session, alice)] == [GroupSource.provider]


@pytest.mark.parametrize(
    ("access_groups", "unified_login"), [(False, True), (True, False), (False, False)]
)
def test_provider_groups_grant_nothing_while_access_groups_are_off(
    session: Session, access_groups: bool, unified_login: bool
) -> None:
    set_access_groups(session, on=access_groups, unified_login=unified_login)
    alice = add_account(session, "alice")
    sales = new_group(session, "Sales")
    add_provider_member(session, sales, add_identity(session, "alice", account=alice))
    new_organization(session, "Acme", [sales])

    assert access.organizations_for(session, alice) == []
    assert access.groups_for(session, alice) == []
    assert access.access_groups_active(session) is False


def test_superusers_see_every_organization_without_any_group(session: Session) -> None:
    root = add_account(session, "root", role=Role.superuser)
    new_organization(session, "Globex")
    new_organization(session, "Acme")

    assert names(access.organizations_for(session, root)) == ["Acme", "Globex"]


@pytest.mark.parametrize("role", [Role.read_only, Role.technician, Role.administrator])
def test_an_account_without_groups_sees_no_organization(session: Session, role: Role) -> None:
    bob = add_account(session, "bob", role=role)
    new_organization(session, "Acme")

    assert access.organizations_for(session, bob) == []


def test_an_unmapped_group_gives_no_organizations(session: Session) -> None:
    set_access_groups(session, on=True)
    alice = add_account(session, "alice")
    lonely = new_group(session, "Lonely")
    add_provider_member(session, lonely, add_identity(session, "alice", account=alice))
    manual = new_group(session, "Manual lonely", source=GroupSource.manual)
    add_manual_member(session, manual, alice)
    other = new_group(session, "Other", source=GroupSource.manual)
    new_organization(session, "Acme", [other])

    assert len(access.groups_for(session, alice)) == 2
    assert access.organizations_for(session, alice) == []


def test_can_see_organization_answers_for_seen_unseen_and_missing_ids(session: Session) -> None:
    alice = add_account(session, "alice")
    staff = new_group(session, "Staff", source=GroupSource.manual)
    add_manual_member(session, staff, alice)
    seen = new_organization(session, "Acme", [staff])
    unseen = new_organization(session, "Globex")

    assert access.can_see_organization(session, alice, seen.id) is True
    assert access.can_see_organization(session, alice, unseen.id) is False
    assert access.can_see_organization(session, alice, 999_999) is False


def test_an_organization_reached_by_two_groups_is_listed_once(session: Session) -> None:
    set_access_groups(session, on=True)
    alice = add_account(session, "alice")
    manual = new_group(session, "Staff", source=GroupSource.manual)
    add_manual_member(session, manual, alice)
    provider = new_group(session, "Sales")
    add_provider_member(session, provider, add_identity(session, "alice", account=alice))
    new_organization(session, "Acme", [manual, provider])

    assert names(access.organizations_for(session, alice)) == ["Acme"]


class TestLoginRefresh:
    """``refresh_provider_groups``: the groups claim at each login."""

    def setup_account(self, session: Session) -> tuple:  # type: ignore[type-arg]
        set_access_groups(session, on=True)
        alice = add_account(session, "alice")
        identity = add_identity(session, "alice", account=alice)
        return alice, identity

    def test_login_refresh_adds_provider_groups_named_in_the_claim_case_insensitively(
        self, session: Session
    ) -> None:
        alice, identity = self.setup_account(session)
        sales = new_group(session, "Sales")
        support = new_group(session, "Support", external_id="grp-support")
        new_group(session, "Finance")

        changed = access.refresh_provider_groups(
            session, alice, ["SALES", "grp-support", "no such group"], actor="login"
        )

        assert changed is True
        assert memberships_of(session, sales.id) == [(identity.id, None, "provider")]
        assert memberships_of(session, support.id) == [(identity.id, None, "provider")]
        assert [g.display_name for g in access.groups_for(session, alice)] == ["Sales", "Support"]
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "access.login_groups_refreshed")
        ).one()
        assert sorted(event.after["added"]) == sorted([sales.id, support.id])

    def test_login_refresh_removes_provider_memberships_missing_from_the_claim(
        self, session: Session
    ) -> None:
        alice, identity = self.setup_account(session)
        sales = new_group(session, "Sales")
        finance = new_group(session, "Finance")
        add_provider_member(session, sales, identity)
        add_provider_member(session, finance, identity)

        assert access.refresh_provider_groups(session, alice, ["Sales"], actor="login") is True

        assert memberships_of(session, sales.id) == [(identity.id, None, "provider")]
        assert memberships_of(session, finance.id) == []

    def test_a_login_refresh_never_removes_a_manual_membership(self, session: Session) -> None:
        alice, _identity = self.setup_account(session)
        manual = new_group(session, "Staff", source=GroupSource.manual)
        add_manual_member(session, manual, alice)
        new_organization(session, "Acme", [manual])

        access.refresh_provider_groups(session, alice, [], actor="login")
        access.refresh_provider_groups(session, alice, ["Other"], actor="login")

        assert memberships_of(session, manual.id) == [(None, alice.id, "manual")]
        assert names(access.organizations_for(session, alice)) == ["Acme"]

    def test_a_login_refresh_never_joins_a_manual_group_of_the_same_name(
        self, session: Session
    ) -> None:
        alice, _identity = self.setup_account(session)
        manual = new_group(session, "Sales", source=GroupSource.manual)

        assert access.refresh_provider_groups(session, alice, ["Sales"], actor="login") is False

        assert memberships_of(session, manual.id) == []

    def test_a_login_refresh_with_the_same_groups_changes_nothing(self, session: Session) -> None:
        alice, identity = self.setup_account(session)
        sales = new_group(session, "Sales")
        add_provider_member(session, sales, identity)
        before = session.scalar(select(AuditEvent.id).limit(1))

        assert access.refresh_provider_groups(session, alice, ["sales"], actor="login") is False

        assert session.scalar(select(AuditEvent.id).limit(1)) == before
        assert memberships_of(session, sales.id) == [(identity.id, None, "provider")]

    def test_a_login_refresh_of_an_account_without_provider_identity_changes_nothing(
        self, session: Session
    ) -> None:
        set_access_groups(session, on=True)
        local = add_account(session, "local")
        sales = new_group(session, "Sales")

        assert access.refresh_provider_groups(session, local, ["Sales"], actor="login") is False

        assert memberships_of(session, sales.id) == []

    def test_a_login_refresh_bumps_the_group_version_for_scim_etags(self, session: Session) -> None:
        alice, _identity = self.setup_account(session)
        sales = new_group(session, "Sales")
        version = sales.version

        access.refresh_provider_groups(session, alice, ["Sales"], actor="login")
        session.refresh(sales)

        assert sales.version == version + 1


class TestAccessGroupsToggle:
    """What turning access groups on and off does to groups already held."""

    def test_turning_access_groups_on_shows_the_provider_groups_already_held_at_once(
        self, session: Session
    ) -> None:
        set_access_groups(session, on=False)
        alice = add_account(session, "alice")
        sales = new_group(session, "Sales")
        add_provider_member(session, sales, add_identity(session, "alice", account=alice))
        new_organization(session, "Acme", [sales])
        assert access.organizations_for(session, alice) == []

        set_access_groups(session, on=True)
        held = access.on_access_groups_enabled(session, actor="account:root")

        assert held == 1
        assert names(access.organizations_for(session, alice)) == ["Acme"]
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "access_groups.enabled")
        ).one()
        assert event.after == {"provider_groups": 1}

    def test_turning_access_groups_off_makes_provider_groups_manual_in_place(
        self, session: Session
    ) -> None:
        set_access_groups(session, on=True)
        alice = add_account(session, "alice")
        identity = add_identity(session, "alice", account=alice)
        pending = add_identity(session, "pending")
        sales = new_group(session, "Sales", external_id="grp-sales")
        add_provider_member(session, sales, identity)
        add_provider_member(session, sales, pending)
        new_organization(session, "Acme", [sales])
        group_id, version = sales.id, sales.version

        set_access_groups(session, on=False)
        converted = access.on_access_groups_disabled(session, actor="account:root")
        session.refresh(sales)

        assert converted == 1
        assert sales.id == group_id
        assert sales.source is GroupSource.manual
        assert sales.external_id is None
        assert sales.payload["formerExternalId"] == "grp-sales"
        assert sales.version == version + 1
        assert set(memberships_of(session, group_id)) == {
            (None, alice.id, "manual"),
            (pending.id, None, "manual"),
        }
        # Memberships and mappings kept: alice still sees Acme with the setting off.
        assert names(access.organizations_for(session, alice)) == ["Acme"]
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "access_groups.disabled")
        ).one()
        assert event.after["groups_converted"] == 1
        assert event.after["memberships_converted"] == 2

    def test_turning_access_groups_off_leaves_manual_groups_alone(self, session: Session) -> None:
        set_access_groups(session, on=True)
        alice = add_account(session, "alice")
        manual = new_group(session, "Staff", source=GroupSource.manual)
        add_manual_member(session, manual, alice)
        version = manual.version

        assert access.on_access_groups_disabled(session, actor="account:root") == 0
        session.refresh(manual)

        assert manual.version == version
        assert memberships_of(session, manual.id) == [(None, alice.id, "manual")]

    def test_the_settings_update_calls_the_access_group_hooks(self, session: Session) -> None:
        from portal_adapter import integration

        sales = new_group(session, "Sales")
        integration.update_settings(
            session, {"unified_login": True, "access_groups": True}, actor="account:root"
        )
        assert sales.source is GroupSource.provider

        integration.update_settings(session, {"access_groups": False}, actor="account:root")
        session.refresh(sales)

        assert sales.source is GroupSource.manual


def test_conversion_keeps_an_account_that_was_member_both_ways_once(session: Session) -> None:
    set_access_groups(session, on=True)
    alice = add_account(session, "alice")
    identity = add_identity(session, "alice", account=alice)
    sales = new_group(session, "Sales")
    add_provider_member(session, sales, identity)
    add_manual_member(session, sales, alice)

    access.on_access_groups_disabled(session, actor="account:root")

    assert set(memberships_of(session, sales.id)) == {
        (None, alice.id, "manual"),
        (identity.id, None, "manual"),
    }
    assert [g.display_name for g in access.groups_for(session, alice)] == ["Sales"]


class TestScale:
    """Visibility never loads a group's membership list, however big the group."""

    MEMBERS = 3000

    def seed(self, session: Session) -> tuple:  # type: ignore[type-arg]
        from sqlalchemy import insert

        from portal_adapter.models import ProviderIdentity

        set_access_groups(session, on=True)
        alice = add_account(session, "alice")
        identity = add_identity(session, "alice", account=alice)
        everyone = new_group(session, "Everyone")
        session.execute(
            insert(ProviderIdentity),
            [
                {"id": f"id-{n}", "user_name": f"u{n}", "user_name_ci": f"u{n}", "payload": {}}
                for n in range(self.MEMBERS)
            ],
        )
        session.execute(
            insert(GroupMembership),
            [
                {"group_id": everyone.id, "identity_id": f"id-{n}", "source": "provider"}
                for n in range(self.MEMBERS)
            ],
        )
        add_provider_member(session, everyone, identity)
        others = [new_group(session, f"Group {n}") for n in range(30)]
        organization = new_organization(session, "Acme", [everyone, *others[:3]])
        new_organization(session, "Globex", others[3:])
        session.commit()
        ids = alice.id, organization.id
        session.expunge_all()
        return session.get(Account, ids[0]), ids[1]

    def test_computing_visibility_takes_few_statements_and_loads_no_membership_row(
        self, session: Session
    ) -> None:
        from sqlalchemy import event

        alice, organization_id = self.seed(session)
        statements: list[str] = []
        engine = session.get_bind()

        def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            # Transaction control (SQLite's explicit BEGIN) is not a query.
            if not statement.startswith("BEGIN"):
                statements.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            organizations = access.organizations_for(session, alice)
            groups = access.groups_for(session, alice)
            seen = access.can_see_organization(session, alice, organization_id)
        finally:
            event.remove(engine, "before_cursor_execute", count)

        assert names(organizations) == ["Acme"]
        assert [g.display_name for g in groups] == ["Everyone"]
        assert seen is True
        # One settings read, then one statement per answer.
        assert len(statements) <= 6, statements
        assert not [o for o in session.identity_map.values() if isinstance(o, GroupMembership)]
        membership_selects = [s for s in statements if "group_memberships" in s]
        assert membership_selects
        for statement in membership_selects:
            assert "group_memberships.account_id =" in statement
            assert "provider_identities.account_id =" in statement

    def test_the_visibility_query_plan_searches_memberships_by_index(
        self, session: Session
    ) -> None:
        if session.get_bind().dialect.name != "sqlite":
            pytest.skip("EXPLAIN QUERY PLAN is SQLite's; PostgreSQL plans differ by size")
        alice, _organization_id = self.seed(session)
        # With statistics, SQLite sees account_id as one huge NULL value; a full index on
        # it would then lose to a table scan. The partial index must still be chosen.
        session.execute(text("ANALYZE"))
        statement = select(access.Organization).where(
            *access._visible_organizations_clause(session, alice)
        )
        compiled = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = [row[-1] for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()]

        memberships = [step for step in plan if "group_memberships" in step]
        assert memberships, plan
        assert all(step.startswith("SEARCH") for step in memberships), plan


class TestLoginClaims:
    """``refresh_provider_groups_from_claims``: what the login helper hands over."""

    def setup_member(self, session: Session) -> tuple:  # type: ignore[type-arg]
        set_access_groups(session, on=True)
        alice = add_account(session, "alice")
        identity = add_identity(session, "alice", account=alice)
        sales = new_group(session, "Sales")
        add_provider_member(session, sales, identity)
        staff = new_group(session, "Staff", source=GroupSource.manual)
        add_manual_member(session, staff, alice)
        return alice, identity, sales, staff

    @pytest.mark.parametrize("claims", [{}, {"groups": None}, {"groups": {"odd": "shape"}}])
    def test_an_absent_groups_claim_changes_nothing(self, session: Session, claims: dict) -> None:  # type: ignore[type-arg]
        alice, identity, sales, staff = self.setup_member(session)

        changed = access.refresh_provider_groups_from_claims(session, alice, claims, actor="login")

        assert changed is False
        assert memberships_of(session, sales.id) == [(identity.id, None, "provider")]
        assert memberships_of(session, staff.id) == [(None, alice.id, "manual")]

    def test_an_empty_groups_claim_removes_provider_memberships_only(
        self, session: Session
    ) -> None:
        alice, _identity, sales, staff = self.setup_member(session)

        changed = access.refresh_provider_groups_from_claims(
            session, alice, {"groups": []}, actor="login"
        )

        assert changed is True
        assert memberships_of(session, sales.id) == []
        assert memberships_of(session, staff.id) == [(None, alice.id, "manual")]

    def test_a_single_string_groups_claim_counts_as_one_name(self, session: Session) -> None:
        alice, identity, _sales, _staff = self.setup_member(session)
        support = new_group(session, "Support")

        access.refresh_provider_groups_from_claims(
            session, alice, {"groups": "support"}, actor="login"
        )

        assert memberships_of(session, support.id) == [(identity.id, None, "provider")]


def test_inserting_a_membership_that_already_exists_is_skipped_not_an_error(
    session: Session,
) -> None:
    """A login refresh racing a SCIM PATCH that adds the same member must not fail."""
    alice = add_account(session, "alice")
    identity = add_identity(session, "alice", account=alice)
    sales = new_group(session, "Sales")
    add_provider_member(session, sales, identity)
    row = {"group_id": sales.id, "identity_id": identity.id, "source": "provider"}

    assert access.insert_memberships(session, [row]) == 0
    assert (
        access.insert_memberships(session, [{**row, "group_id": new_group(session, "B").id}]) == 1
    )
    assert memberships_of(session, sales.id) == [(identity.id, None, "provider")]
