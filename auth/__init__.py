"""The browser login adapter: OIDC relying party, local login, sessions, logout."""

from __future__ import annotations

from flask import Flask

from auth import oidc
from auth import session_check
from auth.views import bp


def init_app(app: Flask) -> None:
    """Register the session check, the relying party and the login pages."""
    session_check.init_app(app)
    oidc.init_app(app)
    app.register_blueprint(bp)
