"""The audit log: a filterable table and its CSV export (administrator and up)."""

from __future__ import annotations

from flask import Response
from flask import render_template
from flask import request
from flask import stream_with_context
from flask.typing import ResponseReturnValue

from portal_adapter import audit_log
from portal_adapter.errors import InvalidInput
from portal_adapter.models import Role
from scim_server.admin.context import dbs
from scim_server.admin.pages.common import bp
from scim_server.admin.pages.common import page_role

PAGE_SIZE = 50


def _criteria() -> audit_log.AuditFilter:
    """The filter of the query string (blank fields do not filter).

    :raises InvalidInput: When a time is not ISO 8601.
    """
    args = request.args
    return audit_log.AuditFilter(
        actor=args.get("actor", "").strip() or None,
        action=args.get("action", "").strip() or None,
        target=args.get("target", "").strip() or None,
        since=audit_log.parse_time("since", args.get("since", "").strip() or None),
        until=audit_log.parse_time("until", args.get("until", "").strip() or None),
    )


@bp.get("/audit")
@page_role(Role.administrator)
def audit() -> ResponseReturnValue:
    """Browse the audit trail, newest first."""
    try:
        offset = max(0, int(request.args.get("offset", "0")))
    except ValueError as error:
        raise InvalidInput("offset must be a whole number") from error
    page = audit_log.query_events(dbs(), _criteria(), offset=offset, limit=PAGE_SIZE)
    return render_template("admin/audit.html", title="Audit log", page=page, args=request.args)


@bp.get("/audit.csv")
@page_role(Role.administrator)
def audit_export() -> ResponseReturnValue:
    """Download the matching events as CSV, oldest first."""
    lines = iter(audit_log.events_to_csv(audit_log.iter_events(dbs(), _criteria())))
    return Response(
        stream_with_context(lines),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )
