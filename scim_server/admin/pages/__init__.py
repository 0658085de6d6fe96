"""The admin pages: server-rendered HTML under /admin on the same rules as /api/v1.

Each module adds its routes to ``bp`` (see ``PAGE_MODULES``); ``init_app`` imports them
and registers the blueprint once. Views parse a form, call one domain function and render:
every rule lives in ``portal_adapter``.
"""

from __future__ import annotations

import importlib

from flask import Flask

from scim_server.admin.pages.common import bp

PAGE_MODULES = ("home", "integration", "users", "groups", "organizations", "audit")


def init_app(app: Flask) -> None:
    """Register the page blueprint (forms are CSRF-checked by the app's CSRFProtect)."""
    for name in PAGE_MODULES:
        importlib.import_module(f"scim_server.admin.pages.{name}")
    app.register_blueprint(bp)
