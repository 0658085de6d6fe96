"""The audit log: a filterable table and its CSV export (administrator and up)."""

from __future__ import annotations

from flask import render_template
from flask import request
from flask import stream_with_context
from flask.typing import ResponseReturnValue

from portal_adapter import audit_log
from portal_adapter.models import Role
from scim_server.admin.context import csv_download
from scim_server.admin.context import dbs
from scim_server.admin.pages.common import bp
from scim_server.admin.pages.common import offset_arg
from scim_server.admin.pages.common import page_role

PAGE_SIZE = 50


@bp.get("/audit")
@page_role(Role.administrator)
def audit() -> ResponseReturnValue:
    """Browse the audit trail, newest first."""
    criteria = audit_log.args_to_filter(request.args)
    page = audit_log.query_events(dbs(), criteria, offset=offset_arg(), limit=PAGE_SIZE)
    return render_template("admin/audit.html", title="Audit log", page=page, args=request.args)


@bp.get("/audit.csv")
@page_role(Role.administrator)
def audit_export() -> ResponseReturnValue:
    """Download the matching events as CSV, oldest first."""
    criteria = audit_log.args_to_filter(request.args)
    lines = audit_log.events_to_csv(audit_log.iter_events(dbs(), criteria))
    return csv_download(stream_with_context(lines), "audit-log.csv")
