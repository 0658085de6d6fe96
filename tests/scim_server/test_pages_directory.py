"""Users, groups, organizations and audit pages through the Flask client: roles and rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal_adapter import integration
from portal_adapter.models import Account
from portal_adapter.models import AccountSource
from portal_adapter.models import AuditEvent
from portal_adapter.models import Group
from portal_adapter.models import GroupSource
from portal_adapter.models import IdentityStatus
from portal_adapter.models import Organization
from portal_adapter.models import OrganizationGroup
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import Role
from scim_server.extensions import db
from tests.signin import post_form
from tests.signin import sign_in


@pytest.fixture
def admin(make_account: Callable[..., Account]) -> Account:
    return make_account(username="adm", role=Role.administrator)


@pytest.fixture
def superuser(make_account: Callable[..., Account]) -> Account:
    return make_account(username="root", role=Role.superuser, password="a long root password")


def _add(app: Flask, *rows: object) -> None:
    with app.app_context():
        db.session.add_all(rows)
        db.session.commit()


def _provider_group(app: Flask, name: str) -> str:
    with app.app_context():
        group = Group(
            display_name=name, display_name_ci=name.casefold(), source=GroupSource.provider
        )
        db.session.add(group)
        db.session.commit()
        return group.id


def _turn_on_access_groups(app: Flask) -> None:
    with app.app_context():
        integration.update_settings(
            db.session, {"unified_login": True, "access_groups": True}, actor="test"
        )
        db.session.commit()


@pytest.mark.parametrize(
    "path",
    ["/admin/users", "/admin/groups", "/admin/audit", "/admin/audit.csv", "/admin/users/1"],
)
def test_pages_for_administrators_answer_403_to_a_technician(
    app: Flask, client: FlaskClient, make_account: Callable[..., Account], path: str
) -> None:
    sign_in(app, client, make_account(username="tech", role=Role.technician))
    response = client.get(path)
    assert response.status_code == 403
    assert "needs the administrator role" in response.get_data(as_text=True)


def test_the_navigation_shows_only_what_the_role_may_open(
    app: Flask, client: FlaskClient, admin: Account
) -> None:
    sign_in(app, client, admin)
    nav = client.get("/admin/").get_data(as_text=True).split('aria-label="Settings"')[1]
    nav = nav.split("</nav>")[0]
    assert "Users" in nav and "Audit log" in nav
    assert "Integrations" not in nav


@pytest.mark.parametrize("path", ["/admin/", "/admin/users", "/admin/integrations/kaseyaone"])
def test_admin_pages_refuse_foreign_frames_and_caches(
    app: Flask, client: FlaskClient, superuser: Account, path: str
) -> None:
    sign_in(app, client, superuser)
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_the_user_list_filters_by_search_source_and_flag(
    app: Flask, client: FlaskClient, admin: Account, make_account: Callable[..., Account]
) -> None:
    make_account(username="carol", source=AccountSource.provider, deactivated_at_provider=True)
    make_account(username="dave")
    sign_in(app, client, admin)
    flagged = client.get("/admin/users?flagged=on").get_data(as_text=True)
    assert ">carol</a>" in flagged and ">dave</a>" not in flagged
    assert "deactivated at the provider — action needed" in flagged
    provider = client.get("/admin/users?source=provider").get_data(as_text=True)
    assert ">carol</a>" in provider and ">adm</a>" not in provider
    search = client.get("/admin/users?q=DAV").get_data(as_text=True)
    assert ">dave</a>" in search and ">carol</a>" not in search
    assert client.get("/admin/users?role=emperor").status_code == 400


def test_an_administrator_creates_the_account_of_a_pending_identity(
    app: Flask, client: FlaskClient, admin: Account
) -> None:
    _add(
        app,
        ProviderIdentity(id="ident-1", external_id="sub-1", user_name="erin", user_name_ci="erin"),
    )
    sign_in(app, client, admin)
    assert "erin" in client.get("/admin/users").get_data(as_text=True)
    response = post_form(
        client, "/admin/users", "/admin/identities/ident-1/create-account", {"role": "read_only"}
    )
    assert response.status_code == 303
    with app.app_context():
        identity = db.session.get(ProviderIdentity, "ident-1")
        assert identity is not None and identity.status is IdentityStatus.linked
        account = db.session.get(Account, identity.account_id)
        assert account is not None and account.username == "erin"


def test_an_administrator_cannot_change_a_role_from_the_user_page(
    app: Flask, client: FlaskClient, admin: Account, make_account: Callable[..., Account]
) -> None:
    target = make_account(username="frank")
    sign_in(app, client, admin)
    page = f"/admin/users/{target.id}"
    assert "Only a superuser changes roles." in client.get(page).get_data(as_text=True)
    response = post_form(client, page, page, {"role": "administrator"})
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(Account, target.id).role is Role.read_only  # type: ignore[union-attr]


def test_disabling_a_user_from_its_page_ends_its_sessions(
    app: Flask, client: FlaskClient, superuser: Account, make_account: Callable[..., Account]
) -> None:
    target = make_account(username="gina")
    other = app.test_client()
    sign_in(app, other, target)
    assert other.get("/admin/organizations").status_code == 200
    sign_in(app, client, superuser)
    page = f"/admin/users/{target.id}"
    response = post_form(client, page, page, {"status": "disabled"})
    assert response.status_code == 303
    assert "disabled" in client.get(page).get_data(as_text=True)
    assert other.get("/admin/organizations").status_code == 302


def test_ending_a_users_sessions_from_its_page_signs_it_out_but_keeps_it_active(
    app: Flask, client: FlaskClient, admin: Account, make_account: Callable[..., Account]
) -> None:
    target = make_account(username="hugo")
    other = app.test_client()
    sign_in(app, other, target)
    assert other.get("/admin/organizations").status_code == 200
    sign_in(app, client, admin)
    page = f"/admin/users/{target.id}"
    response = post_form(client, page, f"{page}/sessions/end", {})
    assert response.status_code == 303
    assert "1 session(s) ended." in client.get(page).get_data(as_text=True)
    assert other.get("/admin/organizations").status_code == 302
    with app.app_context():
        row = db.session.get(Account, target.id)
        assert row is not None and row.is_active


def test_an_administrator_cannot_end_a_superusers_sessions_from_its_page(
    app: Flask, client: FlaskClient, admin: Account, superuser: Account
) -> None:
    sign_in(app, client, admin)
    page = f"/admin/users/{superuser.id}"
    response = post_form(client, page, f"{page}/sessions/end", {})
    assert response.status_code == 403
    assert "only a superuser manages superuser accounts" in response.get_data(as_text=True)


def test_the_last_superuser_cannot_disable_itself_and_sees_why(
    app: Flask, client: FlaskClient, superuser: Account
) -> None:
    sign_in(app, client, superuser)
    page = f"/admin/users/{superuser.id}"
    response = post_form(client, page, page, {"status": "disabled"})
    assert response.status_code == 303
    assert "last active superuser" in client.get(page).get_data(as_text=True)


def test_a_provider_group_is_view_only_with_the_reason_while_access_groups_are_on(
    app: Flask, client: FlaskClient, admin: Account
) -> None:
    group_id = _provider_group(app, "Helpdesk")
    _turn_on_access_groups(app)
    sign_in(app, client, admin)
    listing = client.get("/admin/groups").get_data(as_text=True)
    assert "Helpdesk" in listing and "view-only (managed by KaseyaOne)" in listing
    page = f"/admin/groups/{group_id}"
    html = client.get(page).get_data(as_text=True)
    assert "managed by KaseyaOne while access groups are on" in html
    assert "Rename" not in html
    response = post_form(client, page, f"{page}/name", {"display_name": "Renamed"})
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Group, group_id).display_name == "Helpdesk"  # type: ignore[union-attr]
    assert "managed by KaseyaOne" in client.get(page).get_data(as_text=True)


def test_a_provider_group_is_mapped_to_an_organization_while_access_groups_are_on(
    app: Flask, client: FlaskClient, admin: Account
) -> None:
    group_id = _provider_group(app, "Helpdesk")
    _turn_on_access_groups(app)
    sign_in(app, client, admin)
    response = post_form(
        client,
        "/admin/organizations",
        "/admin/organizations",
        {"name": "Contoso", "group_ids": [group_id]},
    )
    assert response.status_code == 303
    with app.app_context():
        organization = db.session.scalar(select(Organization))
        assert organization is not None and organization.name == "Contoso"
        pairs = db.session.scalars(select(OrganizationGroup.group_id)).all()
        assert pairs == [group_id]
    html = client.get("/admin/organizations").get_data(as_text=True)
    assert "Contoso" in html and "Helpdesk" in html


def test_a_manual_group_is_created_renamed_and_given_a_member(
    app: Flask, client: FlaskClient, admin: Account, make_account: Callable[..., Account]
) -> None:
    make_account(username="hank")
    sign_in(app, client, admin)
    response = post_form(client, "/admin/groups", "/admin/groups", {"display_name": "Ops"})
    page = response.headers["Location"]
    post_form(client, page, f"{page}/name", {"display_name": "Operations"})
    post_form(client, page, f"{page}/members", {"username": "hank"})
    html = client.get(page).get_data(as_text=True)
    assert "Group Operations" in html and ">hank</a>" in html


def test_a_read_only_account_lists_only_the_organizations_it_sees_and_cannot_add_one(
    app: Flask, client: FlaskClient, make_account: Callable[..., Account]
) -> None:
    _add(app, Organization(name="Hidden", name_ci="hidden"))
    viewer = make_account(username="ivy")
    sign_in(app, client, viewer)
    html = client.get("/admin/organizations").get_data(as_text=True)
    assert "Hidden" not in html and "Add an organization" not in html
    response = post_form(client, "/admin/organizations", "/admin/organizations", {"name": "X"})
    assert response.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(Organization).where(Organization.name == "X")) is None


def test_the_audit_log_filters_and_exports_csv(
    app: Flask, client: FlaskClient, admin: Account
) -> None:
    _add(
        app,
        AuditEvent(actor="scim:k1", action="account.create", target="account:zed"),
        AuditEvent(actor="account:adm", action="group.create", target="group:1"),
    )
    sign_in(app, client, admin)
    html = client.get("/admin/audit?action=account.").get_data(as_text=True)
    assert "account:zed" in html and "group:1" not in html
    export = client.get("/admin/audit.csv?actor=scim")
    assert export.status_code == 200
    assert export.mimetype == "text/csv"
    lines = export.get_data(as_text=True).strip().splitlines()
    assert lines[0].startswith("at,actor,action")
    assert len(lines) == 2 and "scim:k1" in lines[1]
    assert client.get("/admin/audit?since=yesterday").status_code == 400


def test_an_unknown_user_or_group_is_a_404_page(
    app: Flask, client: FlaskClient, admin: Account
) -> None:
    sign_in(app, client, admin)
    for path in ("/admin/users/999", "/admin/groups/nope", "/admin/organizations/999"):
        response = client.get(path)
        assert response.status_code == 404
        assert "<h1>Not found</h1>" in response.get_data(as_text=True)
