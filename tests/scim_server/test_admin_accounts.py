"""/api/v1/accounts, /api/v1/identities and admin API tokens, through the Flask client."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal_adapter.models import Account
from portal_adapter.models import IdentityStatus
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import Role
from scim_server.extensions import db
from tests.signin import sign_in

Login = Callable[..., dict[str, str]]
Make = Callable[..., Account]


@pytest.fixture
def root(make_account: Make) -> Account:
    return make_account(username="root", role=Role.superuser, password="a long root password")


@pytest.fixture
def admin(make_account: Make) -> Account:
    return make_account(username="admin", role=Role.administrator)


def pending_identity(app: Flask, user_name: str) -> str:
    with app.app_context():
        identity = ProviderIdentity(
            user_name=user_name,
            user_name_ci=user_name.casefold(),
            external_id=f"sub-{user_name}",
            email=f"{user_name}@example.com",
            status=IdentityStatus.pending,
        )
        db.session.add(identity)
        db.session.commit()
        return identity.id


def test_an_administrator_lists_and_gets_accounts(
    client: FlaskClient, admin: Account, make_account: Make, login_as: Login
) -> None:
    make_account(username="zoe", role=Role.technician)
    login_as(admin)
    body = client.get("/api/v1/accounts?role=technician").json
    assert body["total"] == 1 and body["items"][0]["username"] == "zoe"
    one = client.get(f"/api/v1/accounts/{body['items'][0]['id']}").json
    assert one["role"] == "technician" and "password_hash" not in one


def test_a_technician_gets_403_on_the_accounts_api(
    client: FlaskClient, make_account: Make, login_as: Login
) -> None:
    login_as(make_account(username="tech", role=Role.technician))
    assert client.get("/api/v1/accounts").status_code == 403


def test_an_administrator_creates_an_account_with_the_lowest_role_only(
    client: FlaskClient, admin: Account, login_as: Login
) -> None:
    headers = login_as(admin)
    created = client.post("/api/v1/accounts", json={"username": "new"}, headers=headers)
    assert created.status_code == 201 and created.json["role"] == "read_only"
    refused = client.post(
        "/api/v1/accounts", json={"username": "new2", "role": "administrator"}, headers=headers
    )
    assert refused.status_code == 403 and "only a superuser" in refused.json["detail"]


def test_only_a_superuser_changes_a_role_over_the_api(
    client: FlaskClient, admin: Account, root: Account, make_account: Make, login_as: Login
) -> None:
    user = make_account(username="user")
    headers = login_as(admin)
    url = f"/api/v1/accounts/{user.id}"
    assert client.patch(url, json={"role": "technician"}, headers=headers).status_code == 403
    headers = login_as(root)
    response = client.patch(url, json={"role": "technician"}, headers=headers)
    assert response.status_code == 200 and response.json["role"] == "technician"


def test_an_administrator_cannot_disable_a_superuser(
    client: FlaskClient, admin: Account, root: Account, login_as: Login
) -> None:
    headers = login_as(admin)
    response = client.post(f"/api/v1/accounts/{root.id}/disable", headers=headers)
    assert response.status_code == 403


def test_disabling_an_account_ends_its_live_session_at_once(
    app: Flask, client: FlaskClient, admin: Account, make_account: Make, login_as: Login
) -> None:
    user = make_account(username="user", role=Role.administrator)
    user_browser = app.test_client()
    sign_in(app, user_browser, user)
    assert user_browser.get("/api/v1/accounts").status_code == 200
    headers = login_as(admin)
    disabled = client.post(f"/api/v1/accounts/{user.id}/disable", headers=headers)
    assert disabled.status_code == 200 and disabled.json["status"] == "disabled"
    assert user_browser.get("/api/v1/accounts").status_code == 401


def test_pending_identities_are_listed_and_an_administrator_creates_the_account(
    app: Flask, client: FlaskClient, admin: Account, login_as: Login
) -> None:
    identity_id = pending_identity(app, "paula")
    headers = login_as(admin)
    listed = client.get("/api/v1/identities?status=pending").json
    assert [i["user_name"] for i in listed["items"]] == ["paula"]
    created = client.post(f"/api/v1/identities/{identity_id}/account", json={}, headers=headers)
    assert created.status_code == 201
    assert created.json["linked_identity_id"] == identity_id
    assert client.get("/api/v1/identities?status=pending").json["total"] == 0
    again = client.post(f"/api/v1/identities/{identity_id}/account", json={}, headers=headers)
    assert again.status_code == 409


def test_an_administrator_links_a_pending_identity_to_an_existing_account(
    app: Flask, client: FlaskClient, admin: Account, make_account: Make, login_as: Login
) -> None:
    identity_id = pending_identity(app, "quentin")
    existing = make_account(username="q.local")
    headers = login_as(admin)
    response = client.post(
        f"/api/v1/identities/{identity_id}/link", json={"account_id": existing.id}, headers=headers
    )
    assert response.status_code == 200 and response.json["provider_subject"] == "sub-quentin"


def test_an_admin_api_token_calls_the_api_without_a_cookie_or_csrf(
    app: Flask, client: FlaskClient, root: Account, login_as: Login
) -> None:
    headers = login_as(root)
    issued = client.post("/api/v1/api-tokens", json={"name": "script"}, headers=headers)
    assert issued.status_code == 201 and issued.json["token"].startswith("uvapi_")
    script = app.test_client()
    bearer = {"Authorization": f"Bearer {issued.json['token']}"}
    response = script.patch("/api/v1/integration", json={"unified_login": True}, headers=bearer)
    assert response.status_code == 200 and response.json["unified_login"] is True
    client.delete(f"/api/v1/api-tokens/{issued.json['id']}", headers=headers)
    assert script.get("/api/v1/integration", headers=bearer).status_code == 401


def test_an_admin_api_token_never_exceeds_its_accounts_role(
    app: Flask, client: FlaskClient, admin: Account, login_as: Login
) -> None:
    issued = client.post("/api/v1/api-tokens", json={"name": "s"}, headers=login_as(admin))
    bearer = {"Authorization": f"Bearer {issued.json['token']}"}
    response = app.test_client().patch("/api/v1/integration", json={"x": 1}, headers=bearer)
    assert response.status_code == 403


def test_a_superuser_creates_lists_and_revokes_scim_tokens_over_the_api(
    client: FlaskClient, root: Account, login_as: Login
) -> None:
    headers = login_as(root)
    created = client.post("/api/v1/scim-tokens", json={"name": "kaseya"}, headers=headers)
    assert created.status_code == 201 and created.json["token"].startswith("uvscim_")
    listed = client.get("/api/v1/scim-tokens").json["items"]
    assert [t["name"] for t in listed] == ["kaseya"] and "token" not in listed[0]
    revoked = client.delete("/api/v1/scim-tokens/kaseya", headers=headers)
    assert revoked.json["changed"] is True
    assert client.get("/api/v1/scim-tokens").json["items"][0]["revoked"] is True


def test_an_administrator_enables_a_disabled_account_again(
    client: FlaskClient, admin: Account, make_account: Make, login_as: Login
) -> None:
    user = make_account(username="user")
    headers = login_as(admin)
    client.post(f"/api/v1/accounts/{user.id}/disable", headers=headers)
    response = client.post(f"/api/v1/accounts/{user.id}/enable", headers=headers)
    assert response.status_code == 200
    assert (response.json["status"], response.json["disabled_reason"]) == ("active", None)


def test_the_sync_status_lists_the_queued_settings_changes(
    client: FlaskClient, root: Account, login_as: Login
) -> None:
    headers = login_as(root)
    client.patch("/api/v1/integration", json={"unified_login": True}, headers=headers)
    body = client.get("/api/v1/integration/sync").json
    assert body["sync_status"] == "pending" and body["revision"] == 1
    assert [(e["revision"], e["status"]) for e in body["entries"]] == [(1, "pending")]


def test_an_administrator_ends_every_session_of_an_account_over_the_api(
    app: Flask, client: FlaskClient, admin: Account, root: Account, make_account: Make
) -> None:
    user = make_account(username="user", role=Role.technician)
    user_browser = app.test_client()
    sign_in(app, user_browser, user)
    assert user_browser.get("/api/v1/me").status_code == 200
    headers = sign_in(app, client, admin)
    refused = client.post(f"/api/v1/accounts/{root.id}/sessions/end", headers=headers)
    assert refused.status_code == 403
    ended = client.post(f"/api/v1/accounts/{user.id}/sessions/end", headers=headers)
    assert ended.status_code == 200 and ended.json == {"sessions_ended": 1}
    assert user_browser.get("/api/v1/me").status_code == 401
    assert client.post(f"/api/v1/accounts/{user.id}/sessions/end").status_code == 403


def test_api_answers_are_never_cached(client: FlaskClient, admin: Account, login_as: Login) -> None:
    login_as(admin)
    assert client.get("/api/v1/accounts").headers["Cache-Control"] == "no-store"
    assert client.get("/api/v1/accounts/999999").headers["Cache-Control"] == "no-store"
