"""Fixtures for the login tests: a fake OIDC provider and helpers to drive a login."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func
from sqlalchemy import select

from portal_adapter.integration import get_settings
from portal_adapter.models import LoginSession
from scim_server.extensions import db
from tests.auth.fake_provider import CLIENT_ID
from tests.auth.fake_provider import CLIENT_SECRET
from tests.auth.fake_provider import FakeProvider
from tests.signin import csrf_from


@pytest.fixture(scope="session")
def fake_provider() -> Iterator[FakeProvider]:
    """One provider served for the whole run (its state is reset per test)."""
    provider = FakeProvider()
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture
def provider(fake_provider: FakeProvider) -> FakeProvider:
    """The fake provider, with correct behaviour and no codes."""
    fake_provider.reset()
    return fake_provider


@pytest.fixture
def app_config(app_config: dict[str, Any], provider: FakeProvider) -> dict[str, Any]:
    """The test configuration pointed at the fake provider."""
    return {
        **app_config,
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "LOGIN_RATE_LIMIT": 5,
        "LOGIN_RATE_WINDOW": 300,
    }


@pytest.fixture
def set_settings(app: Flask) -> Callable[..., None]:
    """Write integration settings straight into the row (the rules are tested elsewhere)."""

    def write(**values: Any) -> None:
        with app.app_context():
            row = get_settings(db.session)
            row.installed = True
            for key, value in values.items():
                setattr(row, key, value)
            db.session.commit()

    return write


@pytest.fixture
def unified_login(set_settings: Callable[..., None]) -> None:
    """Unified login on, with automatic creation on."""
    set_settings(unified_login=True, auto_create_users=True)


def live_sessions(app: Flask) -> int:
    """How many login sessions are open."""
    with app.app_context():
        count = db.session.scalar(
            select(func.count(LoginSession.id)).where(LoginSession.ended_at.is_(None))
        )
        return int(count or 0)


class LoginDriver:
    """Drive the authorization-code flow with the Flask client and the fake provider."""

    def __init__(self, client: FlaskClient, provider: FakeProvider) -> None:
        self.client = client
        self.provider = provider

    def begin(self, next_path: str | None = None) -> dict[str, str]:
        """GET /login/kaseyaone; return the authorization request's parameters."""
        query = {"next": next_path} if next_path is not None else {}
        response = self.client.get("/login/kaseyaone", query_string=query)
        assert response.status_code == 302, response.get_data(as_text=True)
        location = response.headers["Location"]
        assert location.startswith(f"{self.provider.issuer}/authorize?")
        return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}

    def callback(self, query: dict[str, str]) -> Any:
        """GET the callback with ``query`` as the provider's redirect would."""
        return self.client.get("/login/kaseyaone/callback", query_string=query)

    def complete(self, params: dict[str, str], **overrides: str | None) -> Any:
        """Consent at the provider, then return to the callback (``overrides`` forge it)."""
        query: dict[str, str | None] = {
            "code": self.provider.authorize(params),
            "state": params["state"],
        }
        query.update(overrides)
        return self.callback({k: v for k, v in query.items() if v is not None})

    def login(self, next_path: str | None = None) -> Any:
        """A whole, correct login."""
        return self.complete(self.begin(next_path))

    def logout(self) -> Any:
        """Log out as a browser does: confirm on /logout, posting its CSRF token."""
        token = csrf_from(self.client.get("/logout").get_data(as_text=True))
        return self.client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def driver(client: FlaskClient, provider: FakeProvider) -> LoginDriver:
    """A login driver on the test client."""
    return LoginDriver(client, provider)
