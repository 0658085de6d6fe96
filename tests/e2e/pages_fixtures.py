"""Helpers and fixtures for the admin-page tests: sign in without the OIDC provider.

A signed-in browser or test client is made the way a login does it: a LoginSession row
and its id in the signed Flask session cookie. The pages' CSRF tokens are read from the
HTML they render, as a browser would.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from portal_adapter import sessions
from portal_adapter.models import Account
from scim_server.extensions import db

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def open_login_session(app: Flask, account: Account) -> str:
    """Open a session row for ``account`` and return its id."""
    with app.app_context():
        row = db.session.get(Account, account.id)
        assert row is not None
        login_session = sessions.open_session(db.session, row, method="local")
        db.session.commit()
        return login_session.id


def sign_in(app: Flask, client: FlaskClient, account: Account) -> None:
    """Make ``client`` signed in as ``account``."""
    session_id = open_login_session(app, account)
    with client.session_transaction() as flask_session:
        flask_session["sid"] = session_id


def session_cookie_value(app: Flask, session_id: str) -> str:
    """The signed cookie value a browser holds for the session ``session_id``."""
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert serializer is not None
    return str(serializer.dumps({"sid": session_id}))


def csrf_from(html: str) -> str:
    """The CSRF token of the first form of a rendered page."""
    found = CSRF_FIELD.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def post_form(client: FlaskClient, page: str, action: str, data: dict[str, Any]) -> Any:
    """GET ``page`` for a CSRF token, then POST ``data`` to ``action`` like a browser."""
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(action, data={**data, "csrf_token": token})
