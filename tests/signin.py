"""Sign a test client in without a login, and read CSRF tokens as a browser does.

A signed-in client is made the way a login does it: a LoginSession row and its id in
the signed Flask session cookie. Pages render their CSRF token into each form; the JSON
API takes the same token, signed, in ``X-CSRF-Token``.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer

from portal_adapter import sessions
from portal_adapter.models import Account
from scim_server.extensions import db

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def open_login_session(app: Flask, account: Account, *, method: str = "local") -> str:
    """Open a session row for ``account`` and return its id."""
    with app.app_context():
        row = db.session.get(Account, account.id)
        assert row is not None
        login_session = sessions.open_session(db.session, row, method=method)
        db.session.commit()
        return login_session.id


def sign_in(
    app: Flask, client: FlaskClient, account: Account, *, method: str = "local"
) -> dict[str, str]:
    """Make ``client`` signed in as ``account``; return the headers an unsafe API call needs."""
    session_id = open_login_session(app, account, method=method)
    raw = secrets.token_hex(20)
    with client.session_transaction() as cookie_session:
        cookie_session["sid"] = session_id
        cookie_session["csrf_token"] = raw
    signed = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="wtf-csrf-token").dumps(raw)
    return {"X-CSRF-Token": signed}


def csrf_from(html: str) -> str:
    """The CSRF token of the first form of a rendered page."""
    found = CSRF_FIELD.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def post_form(client: FlaskClient, page: str, action: str, data: dict[str, Any]) -> Any:
    """GET ``page`` for a CSRF token, then POST ``data`` to ``action`` like a browser."""
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(action, data={**data, "csrf_token": token})
