"""The /login page, local passwords, require SSO, the bypass link, rate limits, sessions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal_adapter import sessions
from portal_adapter.integration import rotate_bypass_secret
from portal_adapter.models import Account
from portal_adapter.models import AccountStatus
from portal_adapter.models import AuditEvent
from portal_adapter.models import LoginSession
from scim_server.extensions import db
from tests.auth.conftest import live_sessions
from tests.signin import csrf_from

PASSWORD = "correct horse battery staple"


def post_login(
    client: FlaskClient, username: str, password: str, *, path: str = "/login", **extra: str
) -> Any:
    """Load the page for its CSRF token, then post the form as a browser does."""
    token = csrf_from(client.get(path).get_data(as_text=True))
    return client.post(
        path, data={"username": username, "password": password, "csrf_token": token, **extra}
    )


@pytest.fixture
def alice(make_account: Callable[..., Account]) -> Account:
    return make_account(username="alice", password=PASSWORD)


@pytest.fixture
def bypass_secret(app: Flask) -> str:
    with app.app_context():
        secret = rotate_bypass_secret(db.session, actor="test")
        db.session.commit()
        return secret


def audit_actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_the_login_page_is_accessible_html(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "<h1>Log in</h1>" in page
    assert '<label for="username">' in page and 'id="username"' in page
    assert '<label for="password">' in page and 'id="password"' in page
    assert 'autocomplete="current-password"' in page
    assert 'name="csrf_token"' in page


def test_the_button_is_hidden_when_unified_login_is_off(
    client: FlaskClient, set_settings: Callable[..., None]
) -> None:
    set_settings(unified_login=False)
    assert "Log in with KaseyaOne" not in client.get("/login").get_data(as_text=True)


def test_a_local_user_logs_in_with_the_right_password(
    app: Flask, client: FlaskClient, alice: Account
) -> None:
    response = post_login(client, "Alice", PASSWORD)
    assert response.status_code == 302
    assert live_sessions(app) == 1
    with app.app_context():
        login_session = db.session.scalar(select(LoginSession))
        assert login_session is not None and login_session.method == "local"
    assert "login.success" in audit_actions(app)


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong password!"), ("nobody", PASSWORD)]
)
def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(
    app: Flask, client: FlaskClient, alice: Account, username: str, password: str
) -> None:
    response = post_login(client, username, password)
    assert response.status_code == 401
    body = response.get_data(as_text=True)
    assert "Wrong username or password." in body
    assert 'role="alert"' in body
    assert live_sessions(app) == 0


def test_a_login_form_without_csrf_token_is_refused(
    app: Flask, client: FlaskClient, alice: Account
) -> None:
    response = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 400
    assert live_sessions(app) == 0


def test_a_disabled_account_cannot_log_in_locally(
    app: Flask, client: FlaskClient, make_account: Callable[..., Account]
) -> None:
    make_account(username="bob", password=PASSWORD, status=AccountStatus.disabled)
    response = post_login(client, "bob", PASSWORD)
    assert response.status_code == 403
    assert live_sessions(app) == 0


def test_require_sso_refuses_a_local_login_that_is_not_an_exception(
    app: Flask, client: FlaskClient, alice: Account, set_settings: Callable[..., None]
) -> None:
    set_settings(unified_login=True, require_sso=True)
    page = client.get("/login").get_data(as_text=True)
    assert "requires you to log in with KaseyaOne" in page
    response = post_login(client, "alice", PASSWORD)
    assert response.status_code == 403
    assert "cannot log in with a password" in response.get_data(as_text=True)
    assert live_sessions(app) == 0


def test_require_sso_still_says_wrong_password_for_a_wrong_password(
    app: Flask, client: FlaskClient, alice: Account, set_settings: Callable[..., None]
) -> None:
    set_settings(unified_login=True, require_sso=True)
    response = post_login(client, "alice", "not the password")
    assert response.status_code == 401


def test_require_sso_lets_an_exception_user_log_in(
    app: Flask, client: FlaskClient, alice: Account, set_settings: Callable[..., None]
) -> None:
    set_settings(unified_login=True, require_sso=True, sso_exceptions=["alice"])
    assert post_login(client, "alice", PASSWORD).status_code == 302
    assert live_sessions(app) == 1


def test_the_bypass_link_lets_a_local_user_in_despite_require_sso(
    app: Flask,
    client: FlaskClient,
    alice: Account,
    set_settings: Callable[..., None],
    bypass_secret: str,
) -> None:
    set_settings(unified_login=True, require_sso=True)
    path = f"/login/local/{bypass_secret}"
    page = client.get(path)
    assert page.status_code == 200
    assert f'action="{path}"' in page.get_data(as_text=True)
    response = post_login(client, "alice", PASSWORD, path=path)
    assert response.status_code == 302
    with app.app_context():
        login_session = db.session.scalar(select(LoginSession))
        assert login_session is not None and login_session.method == "bypass"
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "login.bypass"))
        assert event is not None and event.target == "account:alice"
        assert bypass_secret not in repr((event.after, event.detail, event.target))


def test_a_wrong_bypass_secret_is_not_found_and_audited(
    app: Flask, client: FlaskClient, bypass_secret: str
) -> None:
    response = client.get("/login/local/not-the-secret")
    assert response.status_code == 404
    assert "login.bypass_refused" in audit_actions(app)


def test_no_bypass_secret_means_no_bypass_link(app: Flask, client: FlaskClient) -> None:
    assert client.get("/login/local/anything").status_code == 404


def test_a_rotated_bypass_secret_stops_the_old_link(
    app: Flask, client: FlaskClient, bypass_secret: str
) -> None:
    with app.app_context():
        rotate_bypass_secret(db.session, actor="test")
        db.session.commit()
    assert client.get(f"/login/local/{bypass_secret}").status_code == 404


def test_guessing_bypass_secrets_is_rate_limited(
    app: Flask, client: FlaskClient, bypass_secret: str
) -> None:
    for attempt in range(5):
        assert client.get(f"/login/local/guess-{attempt}").status_code == 404
    response = client.get(f"/login/local/{bypass_secret}")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


def test_failures_for_one_username_are_rate_limited_with_retry_after(
    app: Flask, client: FlaskClient, alice: Account
) -> None:
    for _ in range(5):
        assert post_login(client, "alice", "wrong password!").status_code == 401
    response = post_login(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 301
    assert "Too many attempts" in response.get_data(as_text=True)
    assert live_sessions(app) == 0


def test_failures_from_one_address_are_rate_limited_across_usernames(
    app: Flask, client: FlaskClient, alice: Account
) -> None:
    for attempt in range(5):
        post_login(client, f"user{attempt}", "wrong password!")
    assert post_login(client, "alice", PASSWORD).status_code == 429


def test_the_limit_of_one_address_does_not_block_another(
    app: Flask, client: FlaskClient, alice: Account
) -> None:
    for attempt in range(5):
        post_login(client, f"user{attempt}", "wrong password!")
    other = app.test_client()
    token = csrf_from(other.get("/login").get_data(as_text=True))
    response = other.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert response.status_code == 302


def test_a_disabled_account_loses_its_session_on_the_next_request(
    app: Flask, client: FlaskClient, alice: Account
) -> None:
    post_login(client, "alice", PASSWORD)
    assert client.get("/login").status_code == 302  # signed in: /login goes on
    with app.app_context():
        account = db.session.get(Account, alice.id)
        assert account is not None
        account.status = AccountStatus.disabled
        db.session.commit()
    assert client.get("/login").status_code == 200  # the session is gone
    assert live_sessions(app) == 0


def test_ended_sessions_of_a_deprovisioned_account_are_refused_on_the_next_request(
    app: Flask, client: FlaskClient, alice: Account
) -> None:
    post_login(client, "alice", PASSWORD)
    with app.app_context():
        assert sessions.end_sessions_of(db.session, alice.id) == 1
        db.session.commit()
    assert client.get("/login").status_code == 200
    with client.session_transaction() as flask_session:
        assert "sid" not in flask_session


def test_an_idle_session_expires_after_the_idle_lifetime(
    app: Flask, client: FlaskClient, alice: Account
) -> None:
    import datetime

    post_login(client, "alice", PASSWORD)
    with app.app_context():
        row = db.session.scalar(select(LoginSession))
        assert row is not None
        row.last_seen_at = row.last_seen_at - datetime.timedelta(
            seconds=app.config["SESSION_IDLE_LIFETIME"] + 1
        )
        db.session.commit()
    assert client.get("/login").status_code == 200
    assert live_sessions(app) == 0


def test_the_cookie_is_secure_when_base_url_is_https(
    app_config: dict[str, Any], alice: Account
) -> None:
    from scim_server.app import create_app

    secure_app = create_app({**app_config, "BASE_URL": "https://portal.example"})
    client = secure_app.test_client()
    response = post_login(client, "alice", PASSWORD)
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if "uniview_session=" in h)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    with secure_app.app_context():
        db.session.remove()
        db.engine.dispose()
