"""``/api/v1/groups`` and ``/api/v1/integration/groups-import`` (product rule 5)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal_adapter import integration
from portal_adapter.models import Account
from portal_adapter.models import Group
from portal_adapter.models import GroupMembership
from portal_adapter.models import GroupSource
from portal_adapter.models import Role
from scim_server.extensions import db
from tests.portal_adapter.test_access_builders import add_manual_member
from tests.portal_adapter.test_access_builders import add_provider_member
from tests.portal_adapter.test_access_builders import new_group
from tests.portal_adapter.test_access_builders import new_organization
from tests.portal_adapter.test_access_builders import set_access_groups
from tests.portal_adapter.test_provisioning_builders import add_identity

SignIn = Callable[..., dict[str, str]]
MakeAccount = Callable[..., Account]
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def admin_headers(make_account: MakeAccount, login_as: SignIn) -> dict[str, str]:
    """Sign the client in as an administrator."""
    return login_as(make_account(username="admin", role=Role.administrator))


def test_groups_list_manual_and_provider_groups_with_their_source(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    with app.app_context():
        set_access_groups(db.session, on=True)
        sales = new_group(db.session, "Sales", external_id="grp-sales")
        new_group(db.session, "Staff", source=GroupSource.manual)
        new_organization(db.session, "Acme", [sales])
        db.session.commit()

    body = client.get("/api/v1/groups").get_json()

    assert body["total"] == 2
    assert [
        (g["display_name"], g["source"], g["read_only"], [o["name"] for o in g["organizations"]])
        for g in body["groups"]
    ] == [("Sales", "provider", True, ["Acme"]), ("Staff", "manual", False, [])]
    manual_only = client.get("/api/v1/groups?source=manual").get_json()
    assert [g["display_name"] for g in manual_only["groups"]] == ["Staff"]
    assert client.get("/api/v1/groups?source=nope").status_code == 400
    assert client.get("/api/v1/groups?limit=x").status_code == 400


@pytest.mark.parametrize("role", [Role.read_only, Role.technician])
def test_groups_need_the_administrator_role(
    client: FlaskClient, make_account: MakeAccount, login_as: SignIn, role: Role
) -> None:
    headers = login_as(make_account(username="user", role=role))

    assert client.get("/api/v1/groups").status_code == 403
    assert (
        client.post("/api/v1/groups", json={"display_name": "X"}, headers=headers).status_code
        == 403
    )


def test_an_administrator_manages_a_manual_group_and_its_members(
    client: FlaskClient, make_account: MakeAccount, admin_headers: dict[str, str]
) -> None:
    alice = make_account(username="alice")
    created = client.post("/api/v1/groups", json={"display_name": "Staff"}, headers=admin_headers)
    assert created.status_code == 201
    url = f"/api/v1/groups/{created.get_json()['id']}"

    assert client.put(f"{url}/members/{alice.id}", headers=admin_headers).status_code == 201
    assert client.put(f"{url}/members/{alice.id}", headers=admin_headers).status_code == 200
    members = client.get(f"{url}/members").get_json()
    assert members["total"] == 1
    assert [(m["username"], m["source"]) for m in members["members"]] == [("alice", "manual")]
    renamed = client.patch(url, json={"display_name": "Field staff"}, headers=admin_headers)
    assert renamed.get_json()["display_name"] == "Field staff"
    assert renamed.get_json()["member_count"] == 1
    assert client.delete(f"{url}/members/{alice.id}", headers=admin_headers).status_code == 204
    assert client.get(f"{url}/members").get_json()["total"] == 0
    assert client.put(f"{url}/members/99999", headers=admin_headers).status_code == 404

    assert client.delete(url, headers=admin_headers).status_code == 204
    assert client.get(url).status_code == 404


class TestReadOnlyEnforcement:
    """409 "managed by KaseyaOne" while access groups are on; nothing while off."""

    @pytest.fixture
    def sales_id(self, app: Flask, make_account: MakeAccount, admin_headers: dict[str, str]) -> str:
        make_account(username="root", role=Role.superuser)
        with app.app_context():
            integration.update_settings(
                db.session, {"unified_login": True, "access_groups": True}, actor="test"
            )
            sales = new_group(db.session, "Sales", external_id="grp-sales")
            add_provider_member(db.session, sales, add_identity(db.session, "bob"))
            db.session.commit()
            return sales.id

    def edits(
        self, client: FlaskClient, group_id: str, account_id: int, headers: dict[str, str]
    ) -> list[tuple[str, int, str]]:
        url = f"/api/v1/groups/{group_id}"
        responses = [
            ("rename", client.patch(url, json={"display_name": "Renamed"}, headers=headers)),
            ("add member", client.put(f"{url}/members/{account_id}", headers=headers)),
            ("remove member", client.delete(f"{url}/members/{account_id}", headers=headers)),
            ("delete", client.delete(url, headers=headers)),
        ]
        return [
            (what, r.status_code, (r.get_json() or {}).get("detail", "")) for what, r in responses
        ]

    def test_provider_group_edits_return_409_managed_by_kaseyaone_while_access_groups_are_on(
        self,
        app: Flask,
        client: FlaskClient,
        make_account: MakeAccount,
        admin_headers: dict[str, str],
        sales_id: str,
    ) -> None:
        alice = make_account(username="alice")

        results = self.edits(client, sales_id, alice.id, admin_headers)

        for what, status, detail in results:
            assert status == 409, what
            assert "managed by KaseyaOne" in detail, what
        body = client.get(f"/api/v1/groups/{sales_id}").get_json()
        assert (body["display_name"], body["member_count"]) == ("Sales", 1)

    def test_a_provider_groups_organization_mapping_stays_editable_while_on(
        self, app: Flask, client: FlaskClient, admin_headers: dict[str, str], sales_id: str
    ) -> None:
        with app.app_context():
            organization_id = new_organization(db.session, "Acme").id
            db.session.commit()

        response = client.patch(
            f"/api/v1/groups/{sales_id}",
            json={"display_name": "Sales", "organization_ids": [organization_id]},
            headers=admin_headers,
        )

        assert response.status_code == 200
        assert [o["name"] for o in response.get_json()["organizations"]] == ["Acme"]

    def test_provider_group_edits_succeed_once_access_groups_are_turned_off(
        self,
        app: Flask,
        client: FlaskClient,
        make_account: MakeAccount,
        admin_headers: dict[str, str],
        sales_id: str,
    ) -> None:
        alice = make_account(username="alice")
        with app.app_context():
            integration.update_settings(db.session, {"access_groups": False}, actor="test")
            db.session.commit()
        body = client.get(f"/api/v1/groups/{sales_id}").get_json()
        assert (body["source"], body["read_only"], body["member_count"]) == ("manual", False, 1)

        results = self.edits(client, sales_id, alice.id, admin_headers)

        assert [(what, status) for what, status, _ in results] == [
            ("rename", 200),
            ("add member", 201),
            ("remove member", 204),
            ("delete", 204),
        ]


def test_a_manual_group_survives_any_provider_sync(
    app: Flask,
    client: FlaskClient,
    scim_headers: dict[str, str],
    make_account: MakeAccount,
    admin_headers: dict[str, str],
) -> None:
    alice = make_account(username="alice")
    scim = app.test_client()
    with app.app_context():
        set_access_groups(db.session, on=True)
        staff = new_group(db.session, "Staff", source=GroupSource.manual)
        add_manual_member(db.session, staff, alice)
        new_organization(db.session, "Acme", [staff])
        db.session.commit()
        staff_id = staff.id
    user = scim.post(
        "/scim/v2/Users", json={"schemas": [USER], "userName": "bob"}, headers=scim_headers
    ).get_json()
    # A provider group of the same name, then every kind of provider change to it.
    group = scim.post(
        "/scim/v2/Groups",
        json={"schemas": [GROUP], "displayName": "Staff", "members": [{"value": user["id"]}]},
        headers=scim_headers,
    ).get_json()
    url = f"/scim/v2/Groups/{group['id']}"
    put = scim.put(
        url, json={"schemas": [GROUP], "displayName": "Staff", "members": []}, headers=scim_headers
    )
    patch = scim.patch(
        url,
        json={"schemas": [PATCH], "Operations": [{"op": "remove", "path": "members"}]},
        headers=scim_headers,
    )
    deleted = scim.delete(url, headers=scim_headers)
    # The provider cannot reach the manual group by its id either.
    manual_url = f"/scim/v2/Groups/{staff_id}"
    assert scim.get(manual_url, headers=scim_headers).status_code == 404
    assert scim.delete(manual_url, headers=scim_headers).status_code == 404

    assert (put.status_code, patch.status_code, deleted.status_code) == (200, 200, 204)
    body = client.get(f"/api/v1/groups/{staff_id}").get_json()
    assert (body["display_name"], body["source"], body["member_count"]) == ("Staff", "manual", 1)
    assert [o["name"] for o in body["organizations"]] == ["Acme"]
    with app.app_context():
        rows = db.session.scalars(
            select(GroupMembership.account_id).where(GroupMembership.group_id == staff_id)
        ).all()
        assert rows == [alice.id]


def test_provider_groups_held_while_off_appear_as_soon_as_access_groups_turn_on(
    app: Flask,
    client: FlaskClient,
    scim_headers: dict[str, str],
    make_account: MakeAccount,
    admin_headers: dict[str, str],
) -> None:
    make_account(username="root", role=Role.superuser)
    scim = app.test_client()
    created = scim.post(
        "/scim/v2/Groups", json={"schemas": [GROUP], "displayName": "Sales"}, headers=scim_headers
    )
    assert created.status_code == 201
    assert client.get("/api/v1/groups").get_json()["groups"] == []
    status = client.get("/api/v1/integration/groups-import").get_json()
    assert (status["access_groups"], status["groups_received"]) == (False, 1)

    with app.app_context():
        integration.update_settings(
            db.session, {"unified_login": True, "access_groups": True}, actor="test"
        )
        db.session.commit()

    listed = client.get("/api/v1/groups").get_json()["groups"]
    assert [(g["display_name"], g["source"]) for g in listed] == [("Sales", "provider")]


def test_the_groups_import_status_reports_what_the_provider_sent(
    app: Flask, client: FlaskClient, scim_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    scim = app.test_client()
    with app.app_context():
        set_access_groups(db.session, on=True)
        db.session.commit()
    users = [
        scim.post(
            "/scim/v2/Users", json={"schemas": [USER], "userName": f"u{n}"}, headers=scim_headers
        ).get_json()["id"]
        for n in range(3)
    ]
    scim.post(
        "/scim/v2/Groups",
        json={"schemas": [GROUP], "displayName": "Sales", "members": [{"value": u} for u in users]},
        headers=scim_headers,
    )
    scim.post(
        "/scim/v2/Groups",
        json={
            "schemas": [GROUP],
            "displayName": "Support",
            "members": [{"value": "no-such-user"}],
        },
        headers=scim_headers,
    )

    response = client.get("/api/v1/integration/groups-import")

    assert response.status_code == 200
    status = response.get_json()
    assert status["access_groups"] is True
    assert status["groups_received"] == 2
    assert status["memberships_received"] == 3
    assert status["unmapped_groups"] == 2
    assert status["last_provider_activity_at"] is not None
    assert [e["action"] for e in status["errors"]] == ["scim.group.member_unknown"]
    with app.app_context():
        assert db.session.scalars(select(Group.source)).all() == [GroupSource.provider] * 2


def test_a_scim_delete_of_a_provider_group_audits_its_organization_mappings_first(
    app: Flask, client: FlaskClient, scim_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    from portal_adapter.models import AuditEvent

    scim = app.test_client()
    group = scim.post(
        "/scim/v2/Groups", json={"schemas": [GROUP], "displayName": "Sales"}, headers=scim_headers
    ).get_json()
    with app.app_context():
        set_access_groups(db.session, on=True)
        sales = db.session.get(Group, group["id"])
        assert sales is not None
        acme_id = new_organization(db.session, "Acme", [sales]).id
        db.session.commit()

    assert scim.delete(f"/scim/v2/Groups/{group['id']}", headers=scim_headers).status_code == 204

    organization = client.get(f"/api/v1/organizations/{acme_id}").get_json()
    assert organization["groups"] == []
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "group.provider_delete")
        ).one()
        assert event.target == f"group:{group['id']}"
        assert event.before["organizations"] == [{"id": acme_id, "name": "Acme"}]
