"""Resolve the browser session on every request: ``g.current_account`` or nothing.

The cookie holds only an opaque session id; the row decides. Disabling an account or
ending its sessions therefore takes effect on the very next request.
"""

from __future__ import annotations

import datetime

from flask import Flask
from flask import current_app
from flask import g
from flask import session
from sqlalchemy.orm import Session

from portal_adapter import sessions
from portal_adapter.models import Account
from portal_adapter.models import LoginSession

SESSION_KEY = "sid"


def db_session() -> Session:
    """The application's SQLAlchemy session (auth does not import the composition root)."""
    session_: Session = current_app.extensions["sqlalchemy"].session
    return session_


def load_current_account() -> None:
    """Set ``g.current_account`` and ``g.login_session`` from the session cookie."""
    g.current_account = None
    g.login_session = None
    session_id = session.get(SESSION_KEY)
    if not session_id:
        return
    resolved = sessions.resolve_session(
        db_session(),
        session_id,
        absolute_lifetime=datetime.timedelta(
            seconds=current_app.config["SESSION_ABSOLUTE_LIFETIME"]
        ),
        idle_lifetime=datetime.timedelta(seconds=current_app.config["SESSION_IDLE_LIFETIME"]),
    )
    if resolved is None:
        session.clear()
        db_session().commit()
        return
    g.login_session, g.current_account = resolved
    if db_session().dirty:
        db_session().commit()


def start_session(
    account: Account, *, method: str, id_token_hint: str | None = None
) -> LoginSession:
    """Open a session for ``account`` and bind it to a fresh cookie (the caller commits).

    A session this browser already held is ended: a login always rotates the id, and
    the old id must not stay usable (session fixation).
    """
    previous = g.get("login_session")
    if previous is not None:
        sessions.end_session(db_session(), previous.id)
    session.clear()
    login_session = sessions.open_session(
        db_session(), account, method=method, id_token_hint=id_token_hint
    )
    session[SESSION_KEY] = login_session.id
    session.permanent = True
    return login_session


def init_app(app: Flask) -> None:
    """Run the session check before every request except SCIM and health."""

    @app.before_request
    def _check_session() -> None:
        from flask import request

        if request.path.startswith(("/scim/", "/healthz", "/readyz", "/static/")):
            return
        load_current_account()
