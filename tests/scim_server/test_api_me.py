"""``GET /api/v1/me``: the signed-in account, its groups and the organizations it sees."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from portal_adapter.models import Account
from portal_adapter.models import GroupSource
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import Role
from scim_server.extensions import db
from tests.portal_adapter.test_access_builders import add_manual_member
from tests.portal_adapter.test_access_builders import add_provider_member
from tests.portal_adapter.test_access_builders import new_group
from tests.portal_adapter.test_access_builders import new_organization
from tests.portal_adapter.test_access_builders import set_access_groups
from tests.portal_adapter.test_provisioning_builders import add_identity

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def test_me_without_a_session_is_401_json(client: FlaskClient) -> None:
    response = client.get("/api/v1/me")

    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthenticated"


def test_me_lists_the_accounts_role_groups_and_organizations(
    app: Flask,
    client: FlaskClient,
    make_account: Callable[..., Account],
    login_as: Callable[..., dict[str, str]],
) -> None:
    alice = make_account(username="alice", role=Role.technician)
    with app.app_context():
        set_access_groups(db.session, on=True)
        staff = new_group(db.session, "Staff", source=GroupSource.manual)
        add_manual_member(db.session, staff, alice)
        sales = new_group(db.session, "Sales")
        add_provider_member(db.session, sales, add_identity(db.session, "alice", account=alice))
        new_organization(db.session, "Acme", [staff])
        new_organization(db.session, "Initech", [sales])
        new_organization(db.session, "Globex")
        db.session.commit()
    login_as(alice)

    body = client.get("/api/v1/me").get_json()

    assert body["username"] == "alice"
    assert body["role"] == "technician"
    assert [(g["display_name"], g["source"]) for g in body["groups"]] == [
        ("Sales", "provider"),
        ("Staff", "manual"),
    ]
    assert [o["name"] for o in body["organizations"]] == ["Acme", "Initech"]


def test_me_of_an_account_whose_groups_map_to_nothing_lists_no_organization(
    app: Flask,
    client: FlaskClient,
    make_account: Callable[..., Account],
    login_as: Callable[..., dict[str, str]],
) -> None:
    alice = make_account(username="alice")
    with app.app_context():
        staff = new_group(db.session, "Staff", source=GroupSource.manual)
        add_manual_member(db.session, staff, alice)
        new_organization(db.session, "Acme")
        db.session.commit()
    login_as(alice)

    response = client.get("/api/v1/me")

    assert response.status_code == 200
    assert response.get_json()["organizations"] == []
    assert [g["display_name"] for g in response.get_json()["groups"]] == ["Staff"]


def test_a_scim_group_change_takes_effect_on_the_accounts_next_request(
    app: Flask,
    client: FlaskClient,
    scim_headers: dict[str, str],
    make_account: Callable[..., Account],
    login_as: Callable[..., dict[str, str]],
) -> None:
    alice = make_account(username="alice")
    scim = app.test_client()
    user = scim.post(
        "/scim/v2/Users",
        json={"schemas": [USER], "userName": "alice", "externalId": "sub-alice"},
        headers=scim_headers,
    ).get_json()
    group = scim.post(
        "/scim/v2/Groups",
        json={"schemas": [GROUP], "displayName": "Sales", "externalId": "grp-sales"},
        headers=scim_headers,
    ).get_json()
    with app.app_context():
        set_access_groups(db.session, on=True)
        identity = db.session.get(ProviderIdentity, user["id"])
        assert identity is not None
        identity.account_id = alice.id
        from portal_adapter.models import Group

        sales = db.session.get(Group, group["id"])
        assert sales is not None
        new_organization(db.session, "Acme", [sales])
        db.session.commit()
    login_as(alice)
    assert client.get("/api/v1/me").get_json()["organizations"] == []

    added = scim.patch(
        f"/scim/v2/Groups/{group['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": user["id"]}]}],
        },
        headers=scim_headers,
    )
    assert added.status_code in (200, 204)
    assert [o["name"] for o in client.get("/api/v1/me").get_json()["organizations"]] == ["Acme"]

    removed = scim.patch(
        f"/scim/v2/Groups/{group['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [{"op": "remove", "path": f'members[value eq "{user["id"]}"]'}],
        },
        headers=scim_headers,
    )
    assert removed.status_code in (200, 204)
    assert client.get("/api/v1/me").get_json()["organizations"] == []


def test_me_answers_in_a_bounded_number_of_statements_beside_a_large_group(
    app: Flask,
    client: FlaskClient,
    make_account: Callable[..., Account],
    login_as: Callable[..., dict[str, str]],
) -> None:
    from sqlalchemy import insert

    from portal_adapter.models import GroupMembership

    alice = make_account(username="alice")
    with app.app_context():
        set_access_groups(db.session, on=True)
        big = new_group(db.session, "Everyone")
        db.session.execute(
            insert(ProviderIdentity),
            [
                {"id": f"id-{n}", "user_name": f"u{n}", "user_name_ci": f"u{n}", "payload": {}}
                for n in range(2000)
            ],
        )
        db.session.execute(
            insert(GroupMembership),
            [
                {"group_id": big.id, "identity_id": f"id-{n}", "source": "provider"}
                for n in range(2000)
            ],
        )
        add_provider_member(db.session, big, add_identity(db.session, "alice", account=alice))
        new_organization(db.session, "Acme", [big])
        db.session.commit()
        engine = db.engine
    login_as(alice)
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        # Transaction control (SQLite's explicit BEGIN) is not a query.
        if not statement.startswith("BEGIN"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        body = client.get("/api/v1/me").get_json()
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert [o["name"] for o in body["organizations"]] == ["Acme"]
    # The session check (session + account rows), the settings row, the groups, the
    # organizations; none of them lists a group's members.
    assert len(statements) <= 8, statements
    for statement in statements:
        if "group_memberships" in statement:
            assert "group_memberships.account_id =" in statement
