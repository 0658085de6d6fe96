"""Log in with KaseyaOne against the fake provider: the paths that succeed, and the flow."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from portal_adapter.models import Account
from portal_adapter.models import AuditEvent
from portal_adapter.models import CreatedBy
from portal_adapter.models import LoginSession
from portal_adapter.models import Role
from scim_server.extensions import db
from tests.auth.conftest import LoginDriver
from tests.auth.conftest import live_sessions
from tests.auth.fake_provider import FakeProvider

pytestmark = pytest.mark.usefixtures("unified_login")


def test_the_authorization_request_uses_pkce_s256_state_and_nonce(driver: LoginDriver) -> None:
    params = driver.begin()
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) >= 43
    assert len(params["state"]) >= 20
    assert len(params["nonce"]) >= 20
    assert params["redirect_uri"] == "http://localhost/login/kaseyaone/callback"
    assert params["response_type"] == "code"
    assert "openid" in params["scope"].split()


def test_a_provider_login_creates_the_account_just_in_time_and_opens_a_session(
    app: Flask, driver: LoginDriver
) -> None:
    response = driver.login()
    assert response.status_code == 302
    assert live_sessions(app) == 1
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.username_ci == "alice"))
        assert account is not None
        assert account.role is Role.read_only
        assert account.created_by is CreatedBy.jit_login
        login_session = db.session.scalar(select(LoginSession))
        assert login_session is not None
        assert login_session.method == "oidc"
        assert login_session.id_token_hint is not None


def test_the_session_cookie_is_httponly_and_samesite_lax(driver: LoginDriver) -> None:
    response = driver.login()
    cookie = next(
        header for header in response.headers.getlist("Set-Cookie") if "uniview_session=" in header
    )
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # BASE_URL is http in tests


def test_a_safe_next_path_is_followed_after_login(driver: LoginDriver) -> None:
    response = driver.login(next_path="/admin/users?page=2")
    assert response.headers["Location"] == "/admin/users?page=2"


def test_a_returning_user_is_linked_by_subject_not_duplicated(
    app: Flask, driver: LoginDriver, client: object
) -> None:
    driver.login()
    driver.logout()
    driver.login()
    with app.app_context():
        accounts = list(db.session.scalars(select(Account)))
        assert [a.username for a in accounts] == ["alice"]
        assert len(list(db.session.scalars(select(LoginSession)))) == 2


def test_the_session_id_is_rotated_at_login(app: Flask, driver: LoginDriver) -> None:
    driver.login()
    with driver.client.session_transaction() as first:
        first_id = first["sid"]
    driver.login()
    with driver.client.session_transaction() as second:
        assert second["sid"] != first_id
    assert live_sessions(app) == 1  # the session the browser held before is ended


def test_with_automatic_creation_off_the_user_is_told_to_ask_an_administrator(
    app: Flask, driver: LoginDriver, set_settings: Callable[..., None]
) -> None:
    set_settings(auto_create_users=False)
    response = driver.login()
    assert response.status_code == 403
    assert "Ask your administrator" in response.get_data(as_text=True)
    assert live_sessions(app) == 0
    with app.app_context():
        assert db.session.scalar(select(Account)) is None


def test_a_disabled_account_is_refused_with_no_session(
    app: Flask, driver: LoginDriver, make_account: Callable[..., Account]
) -> None:
    from portal_adapter.models import AccountStatus

    make_account(username="alice", status=AccountStatus.disabled, provider_subject="subject-alice")
    response = driver.login()
    assert response.status_code == 403
    assert "administrator" in response.get_data(as_text=True)
    assert live_sessions(app) == 0


def test_login_with_kaseyaone_is_refused_while_unified_login_is_off(
    app: Flask, driver: LoginDriver, set_settings: Callable[..., None]
) -> None:
    set_settings(unified_login=False)
    response = driver.client.get("/login/kaseyaone")
    assert response.status_code == 403
    page = driver.client.get("/login").get_data(as_text=True)
    assert "Log in with KaseyaOne" not in page


def test_the_button_is_shown_while_unified_login_is_on(driver: LoginDriver) -> None:
    page = driver.client.get("/login").get_data(as_text=True)
    assert 'id="login-kaseyaone"' in page


def test_logout_ends_the_session_and_continues_to_the_providers_end_session(
    app: Flask, driver: LoginDriver, provider: FakeProvider
) -> None:
    driver.login()
    response = driver.logout()
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{provider.issuer}/logout"
    query = parse_qs(target.query)
    assert query["post_logout_redirect_uri"] == ["http://localhost/login"]
    assert "id_token_hint" in query
    assert live_sessions(app) == 0
    assert driver.client.get("/logout").status_code == 302  # no session: back to /login


def test_logout_without_an_end_session_endpoint_goes_back_to_login(
    app: Flask, driver: LoginDriver, provider: FakeProvider
) -> None:
    provider.behaviour.end_session = False
    with app.app_context():
        app.extensions["uniview_oidc"].client.server_metadata.pop("_loaded_at", None)
    driver.login()
    response = driver.logout()
    assert response.headers["Location"] == "/login"
    assert live_sessions(app) == 0


def test_logout_without_a_csrf_token_is_refused(app: Flask, driver: LoginDriver) -> None:
    driver.login()
    response = driver.client.post("/logout")
    assert response.status_code == 400
    assert live_sessions(app) == 1


def test_a_successful_login_is_audited_without_the_id_token(
    app: Flask, driver: LoginDriver
) -> None:
    driver.login()
    with app.app_context():
        events = list(
            db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login.success"))
        )
        assert len(events) == 1
        assert events[0].target == "account:alice"
        assert "eyJ" not in repr((events[0].before, events[0].after, events[0].detail))


def test_the_groups_claim_of_a_login_refreshes_the_provider_groups(
    app: Flask, driver: LoginDriver, provider: FakeProvider, set_settings: Callable[..., None]
) -> None:
    from portal_adapter.models import Group
    from portal_adapter.models import GroupMembership
    from portal_adapter.models import GroupSource

    set_settings(access_groups=True)
    with app.app_context():
        db.session.add(
            Group(display_name="Techs", display_name_ci="techs", source=GroupSource.provider)
        )
        db.session.commit()
    provider.behaviour.userinfo_extra = {"groups": ["Techs"]}
    assert driver.login().status_code == 302
    with app.app_context():
        names = list(
            db.session.scalars(
                select(Group.display_name).join(
                    GroupMembership, GroupMembership.group_id == Group.id
                )
            )
        )
        assert names == ["Techs"]


def test_the_login_page_cannot_be_framed(driver: LoginDriver) -> None:
    response = driver.client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
