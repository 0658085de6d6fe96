"""The browser login adapter: OIDC relying party, local login, sessions, logout."""

from __future__ import annotations

from flask import Flask

from auth import session_check


def init_app(app: Flask) -> None:
    """Register the session check (and, later, the login endpoints)."""
    session_check.init_app(app)
