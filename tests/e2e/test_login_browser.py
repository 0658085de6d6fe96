"""Unified login end to end: a real provider (Canaille via pytest-iam), a real browser.

The portal is served over real HTTP; chromium follows every redirect between the
portal and the provider, types into both login forms, and reads ``GET /api/v1/me``.
Screenshots of the login page (default, error, require-SSO) go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from portal_adapter.integration import get_settings
from portal_adapter.integration import rotate_bypass_secret
from portal_adapter.models import Account
from portal_adapter.models import AccountStatus
from portal_adapter.models import CreatedBy
from portal_adapter.models import LoginSession
from portal_adapter.models import Role
from portal_adapter.passwords import hash_password
from scim_server.extensions import db
from tests.e2e.conftest import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PROVIDER_PASSWORD = "provider password 42!"
LOCAL_PASSWORD = "local password for e2e 42"


@pytest.fixture
def portal(live_server: Callable[..., LiveServer], iam_server: Any) -> tuple[LiveServer, Any]:
    """The portal served on a free port, registered as a client at the provider."""
    issuer = requests.get(f"{iam_server.url}.well-known/openid-configuration", timeout=10).json()[
        "issuer"
    ]
    client_id = f"portal-{uuid.uuid4().hex[:8]}"
    client_secret = uuid.uuid4().hex
    live = live_server(
        OIDC_ISSUER=issuer,
        OIDC_CLIENT_ID=client_id,
        OIDC_CLIENT_SECRET=client_secret,
        OIDC_SCOPES="openid profile email groups",
    )
    client = iam_server.models.Client(
        client_id=client_id,
        client_secret=client_secret,
        client_name="UniView Portal",
        client_uri=live.url,
        redirect_uris=[f"{live.url}/login/kaseyaone/callback"],
        post_logout_redirect_uris=[f"{live.url}/login"],
        grant_types=["authorization_code"],
        response_types=["code"],
        token_endpoint_auth_method="client_secret_basic",
        scope=["openid", "profile", "email", "groups"],
    )
    iam_server.backend.save(client)
    client.audience = [client]
    iam_server.backend.save(client)
    with live.app.app_context():
        row = get_settings(db.session)
        row.installed = True
        row.unified_login = True
        row.auto_create_users = True
        row.revision = 1
        db.session.commit()
    return live, iam_server


def provider_user(iam_server: Any) -> Any:
    """A provider user with a known password."""
    name = f"pat{uuid.uuid4().hex[:6]}"
    return iam_server.random_user(
        user_name=name,
        # Canaille sends display_name as preferred_username, the portal's username claim.
        display_name=name,
        password=PROVIDER_PASSWORD,
        emails=[f"{name}@example.com"],
    )


def add_local_account(live: LiveServer, username: str, **values: Any) -> None:
    with live.app.app_context():
        db.session.add(
            Account(
                username=username,
                username_ci=username.casefold(),
                password_hash=hash_password(LOCAL_PASSWORD),
                **values,
            )
        )
        db.session.commit()


def login_at_provider(page: Any, user_name: str) -> None:
    """Type the provider credentials into Canaille's forms and accept the consent."""
    page.fill("input[name=login]", user_name)
    page.locator("form button[type=submit]").last.click()
    page.fill("input[name=password]", PROVIDER_PASSWORD)
    page.locator("form button[type=submit]").last.click()
    accept = page.locator("#accept")
    if accept.count():
        accept.click()


def me(page: Any, live: LiveServer) -> tuple[int, dict[str, Any]]:
    """GET /api/v1/me in the browser (its cookies) and return status and JSON."""
    response = page.request.get(f"{live.url}/api/v1/me")
    body = response.text()
    return response.status, json.loads(body) if body.startswith("{") else {}


def local_login(page: Any, url: str, username: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()


def test_a_provider_user_logs_in_through_the_provider_and_is_created_just_in_time(
    portal: tuple[LiveServer, Any], page: Any, artifacts_dir: Path
) -> None:
    live, iam = portal
    user = provider_user(iam)
    page.goto(f"{live.url}/login")
    page.screenshot(path=str(artifacts_dir / "login-default.png"), full_page=True)
    page.get_by_role("link", name="Log in with KaseyaOne").click()
    login_at_provider(page, user.user_name)
    page.wait_for_url(f"{live.url}/**")
    status, body = me(page, live)
    assert status == 200, body
    assert body["username"] == user.user_name
    assert body["role"] == Role.read_only.value
    with live.app.app_context():
        account = db.session.scalar(select(Account).where(Account.username == user.user_name))
        assert account is not None
        assert account.created_by is CreatedBy.jit_login


def test_logout_ends_the_session_and_goes_through_the_providers_logout(
    portal: tuple[LiveServer, Any], page: Any
) -> None:
    live, iam = portal
    user = provider_user(iam)
    page.goto(f"{live.url}/login/kaseyaone")
    login_at_provider(page, user.user_name)
    page.wait_for_url(f"{live.url}/**")
    assert me(page, live)[0] == 200
    visited: list[str] = []
    page.on("request", lambda request: visited.append(request.url))
    page.goto(f"{live.url}/logout")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    end_session = (
        iam.app.test_client().get("/.well-known/openid-configuration").json["end_session_endpoint"]
    )
    assert any(url.startswith(end_session) and "id_token_hint=" in url for url in visited)
    assert me(page, live)[0] == 401
    with live.app.app_context():
        rows = list(db.session.scalars(select(LoginSession)))
        assert rows and all(row.ended_at is not None for row in rows)


def test_with_require_sso_a_local_login_is_refused_but_an_exception_user_gets_in(
    portal: tuple[LiveServer, Any], page: Any, artifacts_dir: Path
) -> None:
    live, _ = portal
    add_local_account(live, "localonly")
    add_local_account(live, "breakglass", role=Role.superuser)
    with live.app.app_context():
        row = get_settings(db.session)
        row.require_sso = True
        row.sso_exceptions = ["breakglass"]
        db.session.commit()
    local_login(page, f"{live.url}/login", "localonly", LOCAL_PASSWORD)
    assert page.get_by_role("alert").inner_text().startswith("This account cannot log in")
    assert page.locator("#require-sso").is_visible()
    page.screenshot(path=str(artifacts_dir / "login-require-sso.png"), full_page=True)
    assert me(page, live)[0] == 401
    local_login(page, f"{live.url}/login", "breakglass", LOCAL_PASSWORD)
    page.wait_for_url(lambda url: "/login" not in url)
    status, body = me(page, live)
    assert status == 200 and body["username"] == "breakglass"


def test_a_wrong_password_shows_a_generic_error(
    portal: tuple[LiveServer, Any], page: Any, artifacts_dir: Path
) -> None:
    live, _ = portal
    add_local_account(live, "someone")
    local_login(page, f"{live.url}/login", "someone", "not the password")
    assert page.get_by_role("alert").inner_text() == "Wrong username or password."
    page.screenshot(path=str(artifacts_dir / "login-error.png"), full_page=True)
    assert me(page, live)[0] == 401


def test_the_bypass_link_lets_a_local_user_in_while_sso_is_required(
    portal: tuple[LiveServer, Any], page: Any
) -> None:
    live, _ = portal
    add_local_account(live, "contractor")
    with live.app.app_context():
        row = get_settings(db.session)
        row.require_sso = True
        secret = rotate_bypass_secret(db.session, actor="test")
        db.session.commit()
    local_login(page, f"{live.url}/login/local/{secret}", "contractor", LOCAL_PASSWORD)
    page.wait_for_url(lambda url: "/login" not in url)
    status, body = me(page, live)
    assert status == 200 and body["username"] == "contractor"


def test_a_deprovisioned_users_browser_session_is_refused_on_its_next_request(
    portal: tuple[LiveServer, Any], page: Any
) -> None:
    live, iam = portal
    user = provider_user(iam)
    page.goto(f"{live.url}/login/kaseyaone")
    login_at_provider(page, user.user_name)
    page.wait_for_url(f"{live.url}/**")
    assert me(page, live)[0] == 200
    with live.app.app_context():
        account = db.session.scalar(select(Account).where(Account.username == user.user_name))
        assert account is not None
        account.status = AccountStatus.disabled
        db.session.commit()
    assert me(page, live)[0] == 401
