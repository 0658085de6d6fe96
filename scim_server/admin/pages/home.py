"""The settings home: the views the signed-in role may open."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from portal_adapter.models import Role
from scim_server.admin.pages.common import bp
from scim_server.admin.pages.common import page_role


@bp.get("/")
@page_role(Role.read_only)
def home() -> ResponseReturnValue:
    """List the settings views."""
    return render_template("admin/home.html", title="Settings")
