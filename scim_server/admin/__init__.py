"""The admin JSON API (/api/v1) and the admin pages."""

from __future__ import annotations

import importlib

from flask import Flask

from scim_server.admin import pages
from scim_server.admin.api import bp

ENDPOINT_MODULES = (
    # Each adds its routes to ``bp``; listed here so registration happens once.
    "me",
    "organizations",
    "groups",
    "tokens_api",
    "audit_api",
    "accounts",
    "identities",
    "integration",
)


def init_app(app: Flask) -> None:
    """Register the admin API and pages."""
    for name in ENDPOINT_MODULES:
        importlib.import_module(f"scim_server.admin.{name}")
    # The API checks CSRF itself (a header, and only for cookie sessions).
    app.extensions["csrf"].exempt(bp)
    app.register_blueprint(bp)
    pages.init_app(app)
