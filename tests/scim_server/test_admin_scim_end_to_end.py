"""SCIM-driven end to end: what the provider pushes over /scim/v2 does to portal accounts,
seen through the admin API and a live browser session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal_adapter import integration
from portal_adapter.models import Account
from portal_adapter.models import Role
from scim_server.extensions import db

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
Login = Callable[..., dict[str, str]]


def configure(app: Flask, **changes: Any) -> None:
    with app.app_context():
        integration.update_settings(db.session, {"unified_login": True, **changes}, actor="test")
        db.session.commit()


def push_user(client: FlaskClient, headers: dict[str, str], user_name: str) -> str:
    response = client.post(
        "/scim/v2/Users",
        json={
            "schemas": [USER_SCHEMA],
            "userName": user_name,
            "externalId": f"sub-{user_name}",
            "active": True,
            "emails": [{"value": f"{user_name}@example.com", "primary": True}],
        },
        headers=headers,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.json["id"])


def set_active(client: FlaskClient, headers: dict[str, str], user_id: str, active: bool) -> Any:
    return client.patch(
        f"/scim/v2/Users/{user_id}",
        json={
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "replace", "path": "active", "value": active}],
        },
        headers=headers,
    )


def account_named(app: Flask, username: str) -> Account | None:
    with app.app_context():
        account = db.session.query(Account).filter_by(username_ci=username).one_or_none()
        if account is not None:
            db.session.expunge(account)
        return account


@pytest.fixture
def admin(make_account: Callable[..., Account]) -> Account:
    return make_account(username="admin", role=Role.administrator)


def test_with_creation_on_a_pushed_user_gets_an_account_with_the_default_role(
    app: Flask, client: FlaskClient, scim_headers: dict[str, str]
) -> None:
    configure(app, auto_create_users=True, default_role="technician")
    push_user(client, scim_headers, "dora")
    account = account_named(app, "dora")
    assert account is not None and account.role is Role.technician
    assert account.provider_subject == "sub-dora"


def test_with_creation_off_a_pushed_user_is_pending_until_an_administrator_creates_it(
    app: Flask,
    client: FlaskClient,
    scim_headers: dict[str, str],
    admin: Account,
    login_as: Login,
) -> None:
    configure(app)
    user_id = push_user(client, scim_headers, "eve")
    assert account_named(app, "eve") is None
    headers = login_as(admin)
    pending = client.get("/api/v1/identities?status=pending").json["items"]
    assert [(i["id"], i["user_name"]) for i in pending] == [(user_id, "eve")]
    created = client.post(f"/api/v1/identities/{user_id}/account", json={}, headers=headers)
    assert created.status_code == 201 and created.json["username"] == "eve"
    assert client.get(f"/scim/v2/Users/{user_id}", headers=scim_headers).status_code == 200


def test_deactivation_over_scim_makes_the_live_session_get_401_on_its_next_request(
    app: Flask,
    client: FlaskClient,
    scim_headers: dict[str, str],
    login_as: Login,
) -> None:
    configure(app, auto_create_users=True, auto_deprovision=True, default_role="administrator")
    user_id = push_user(client, scim_headers, "fay")
    account = account_named(app, "fay")
    assert account is not None
    browser = app.test_client()
    with app.app_context():
        from portal_adapter.sessions import open_session

        row = db.session.get(Account, account.id)
        assert row is not None
        session_id = open_session(db.session, row, method="oidc").id
        db.session.commit()
    with browser.session_transaction() as cookie:
        cookie["sid"] = session_id
    assert browser.get("/api/v1/accounts").status_code == 200
    assert set_active(client, scim_headers, user_id, False).status_code == 200
    assert browser.get("/api/v1/accounts").status_code == 401


def test_with_auto_deprovisioning_off_deactivation_only_flags_the_account(
    app: Flask, client: FlaskClient, scim_headers: dict[str, str], admin: Account, login_as: Login
) -> None:
    configure(app, auto_create_users=True)
    user_id = push_user(client, scim_headers, "gus")
    set_active(client, scim_headers, user_id, False)
    login_as(admin)
    flagged = client.get("/api/v1/accounts?flagged=true").json["items"]
    assert [(a["username"], a["status"]) for a in flagged] == [("gus", "active")]
    assert flagged[0]["action_needed"] == "deactivated at the provider — action needed"


@pytest.mark.parametrize(
    ("action", "exists_after"), [("disable", True), ("delete", False)], ids=["disable", "delete"]
)
def test_delete_over_scim_applies_each_deprovision_action(
    app: Flask,
    client: FlaskClient,
    scim_headers: dict[str, str],
    action: str,
    exists_after: bool,
) -> None:
    configure(app, auto_create_users=True, auto_deprovision=True, deprovision_action=action)
    user_id = push_user(client, scim_headers, "hal")
    response = client.delete(f"/scim/v2/Users/{user_id}", headers=scim_headers)
    assert response.status_code == 204
    account = account_named(app, "hal")
    assert (account is not None) is exists_after
    if account is not None:
        assert not account.is_active
    again = push_user(client, scim_headers, "hal")
    relinked = account_named(app, "hal")
    assert relinked is not None and relinked.is_active and again != user_id


def test_reactivation_over_scim_restores_the_same_account_with_its_role(
    app: Flask, client: FlaskClient, scim_headers: dict[str, str]
) -> None:
    configure(app, auto_create_users=True, auto_deprovision=True, default_role="technician")
    user_id = push_user(client, scim_headers, "ida")
    before = account_named(app, "ida")
    set_active(client, scim_headers, user_id, False)
    assert set_active(client, scim_headers, user_id, True).status_code == 200
    after = account_named(app, "ida")
    assert before is not None and after is not None
    assert (after.id, after.role, after.is_active) == (before.id, Role.technician, True)


def test_the_last_superuser_is_protected_from_the_provider_with_a_409(
    app: Flask, client: FlaskClient, scim_headers: dict[str, str]
) -> None:
    configure(app, auto_create_users=True, auto_deprovision=True, deprovision_action="delete")
    user_id = push_user(client, scim_headers, "root")
    with app.app_context():
        root = db.session.query(Account).filter_by(username_ci="root").one()
        root.role = Role.superuser
        db.session.commit()
    refused = set_active(client, scim_headers, user_id, False)
    assert refused.status_code == 409
    assert "last active superuser" in refused.json["detail"]
    deleted = client.delete(f"/scim/v2/Users/{user_id}", headers=scim_headers)
    assert deleted.status_code == 409
    account = account_named(app, "root")
    assert account is not None and account.is_active


def test_a_refused_deactivation_of_the_last_superuser_leaves_the_scim_user_active(
    app: Flask, client: FlaskClient, scim_headers: dict[str, str]
) -> None:
    configure(app, auto_create_users=True, auto_deprovision=True)
    user_id = push_user(client, scim_headers, "root")
    with app.app_context():
        db.session.query(Account).filter_by(username_ci="root").one().role = Role.superuser
        db.session.commit()
    assert set_active(client, scim_headers, user_id, False).status_code == 409
    assert client.get(f"/scim/v2/Users/{user_id}", headers=scim_headers).json["active"] is True


def test_the_audit_log_tells_who_did_what_for_a_scim_push_with_its_request_id(
    app: Flask,
    client: FlaskClient,
    scim_headers: dict[str, str],
    admin: Account,
    login_as: Login,
) -> None:
    configure(app, auto_create_users=True)
    client.post(
        "/scim/v2/Users",
        json={"schemas": [USER_SCHEMA], "userName": "kai", "externalId": "sub-kai"},
        headers={**scim_headers, "X-Request-ID": "push-1"},
    )
    login_as(admin)
    events = client.get("/api/v1/audit?target=account:kai&action=account.create").json["items"]
    assert [(e["actor"], e["request_id"]) for e in events] == [("scim:test-provider", "push-1")]
    assert events[0]["after"]["role"] == "read_only"
