"""GET/PATCH /api/v1/integration: each settings rule through the API, including each 409."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal_adapter import integration
from portal_adapter.models import Account
from portal_adapter.models import AuditEvent
from portal_adapter.models import Role
from scim_server.extensions import db

URL = "/api/v1/integration"


@pytest.fixture
def root(make_account: Callable[..., Account]) -> Account:
    return make_account(username="root", role=Role.superuser, password="a long root password")


@pytest.fixture
def as_root(root: Account, login_as: Callable[..., dict[str, str]]) -> dict[str, str]:
    return login_as(root)


def patch(client: FlaskClient, headers: dict[str, str], body: Any) -> Any:
    return client.patch(URL, json=body, headers=headers)


def test_reading_the_settings_needs_a_session(client: FlaskClient) -> None:
    response = client.get(URL)
    assert response.status_code == 401 and response.json["error"] == "unauthenticated"


def test_a_superuser_reads_the_effective_settings_with_revision_and_sync_status(
    client: FlaskClient, as_root: dict[str, str]
) -> None:
    body = client.get(URL).json
    assert body["unified_login"] is False and body["require_sso"] is False
    assert body["revision"] == 0 and body["sync_status"] == "synced"
    assert body["default_role"] == "read_only"


def test_a_superuser_turns_unified_login_on_then_auto_creation(
    client: FlaskClient, as_root: dict[str, str]
) -> None:
    assert patch(client, as_root, {"unified_login": True}).status_code == 200
    response = patch(client, as_root, {"auto_create_users": True, "default_role": "technician"})
    assert response.status_code == 200
    assert response.json["auto_create_users"] is True and response.json["revision"] == 2
    assert response.json["sync_status"] == "pending"


@pytest.mark.parametrize(
    "body",
    [
        {"require_sso": True},
        {"auto_create_users": True},
        {"auto_deprovision": True},
        {"deprovision_action": "delete"},
        {"access_groups": True},
        {"default_role": "technician"},
        {"sso_exceptions": ["root"]},
    ],
)
def test_changing_a_setting_while_unified_login_is_off_answers_409_naming_the_rule(
    app: Flask, client: FlaskClient, as_root: dict[str, str], body: dict[str, Any]
) -> None:
    response = patch(client, as_root, body)
    assert response.status_code == 409
    assert response.json["error"] == "rule_violation"
    assert "unified login must be on" in response.json["detail"]
    with app.app_context():
        assert integration.get_settings(db.session).revision == 0


def test_turning_unified_login_off_turns_the_others_off_over_the_api(
    client: FlaskClient, as_root: dict[str, str]
) -> None:
    patch(client, as_root, {"unified_login": True, "auto_create_users": True})
    body = patch(client, as_root, {"unified_login": False}).json
    assert body["auto_create_users"] is False
    assert patch(client, as_root, {"unified_login": True}).json["auto_create_users"] is False
    assert patch(client, as_root, {"auto_create_users": True}).json["auto_create_users"] is True


def test_a_superuser_default_role_answers_409(client: FlaskClient, as_root: dict[str, str]) -> None:
    patch(client, as_root, {"unified_login": True})
    response = patch(client, as_root, {"default_role": "superuser"})
    assert response.status_code == 409
    assert "superuser is never a default role" in response.json["detail"]


def test_require_sso_without_a_superuser_able_to_log_in_answers_409(
    client: FlaskClient, as_root: dict[str, str]
) -> None:
    patch(client, as_root, {"unified_login": True})
    response = patch(client, as_root, {"require_sso": True})
    assert response.status_code == 409
    assert "require SSO needs at least one superuser" in response.json["detail"]
    response = patch(client, as_root, {"require_sso": True, "sso_exceptions": ["root"]})
    assert response.status_code == 200 and response.json["sso_exceptions"] == ["root"]


def test_every_api_change_is_audited_with_before_after_and_the_request_id(
    app: Flask, client: FlaskClient, as_root: dict[str, str]
) -> None:
    response = client.patch(
        URL, json={"unified_login": True}, headers={**as_root, "X-Request-ID": "req-123"}
    )
    assert response.headers["X-Request-ID"] == "req-123"
    with app.app_context():
        event = db.session.query(AuditEvent).filter_by(action="integration.update").one()
        assert event.actor == "account:root" and event.request_id == "req-123"
        assert event.before == {"unified_login": False}
        assert event.after == {"unified_login": True, "revision": 1}


@pytest.mark.parametrize("role", [Role.administrator, Role.technician, Role.read_only])
def test_only_a_superuser_changes_settings(
    app: Flask,
    client: FlaskClient,
    make_account: Callable[..., Account],
    login_as: Callable[..., dict[str, str]],
    role: Role,
) -> None:
    headers = login_as(make_account(username="someone", role=role))
    response = patch(client, headers, {"unified_login": True})
    assert response.status_code == 403
    with app.app_context():
        assert integration.read_settings(db.session).unified_login is False


def test_a_patch_without_the_csrf_header_is_refused(
    client: FlaskClient, as_root: dict[str, str]
) -> None:
    response = client.patch(URL, json={"unified_login": True})
    assert response.status_code == 403 and response.json["error"] == "csrf"


def test_a_fresh_install_with_an_oidc_provider_has_unified_login_on(
    app_config: dict[str, Any],
) -> None:
    from scim_server.app import create_app

    app_config["OIDC_ISSUER"] = "https://idp.example.com"
    application = create_app(app_config)
    with application.app_context():
        db.create_all()
    application.test_client().get("/healthz")
    with application.app_context():
        settings = integration.read_settings(db.session)
        assert settings.installed and settings.unified_login
        assert not settings.auto_create_users and settings.default_role is Role.read_only
        db.session.remove()
        db.engine.dispose()


def test_the_superuser_sees_and_rotates_the_bypass_link(
    client: FlaskClient, as_root: dict[str, str]
) -> None:
    first = client.post(f"{URL}/bypass-link", json={}, headers=as_root).json["bypass_link"]
    second = client.post(f"{URL}/bypass-link", headers=as_root).json["bypass_link"]
    assert first.startswith("http://localhost/login/local/") and first != second
    assert client.get(URL).json["bypass_link"] == second
