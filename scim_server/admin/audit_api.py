"""/api/v1/audit: browse (filters, pages) and export (CSV) the audit log; request ids.

Every request gets an id (``X-Request-ID`` when the caller sends a sane one, else a
fresh one), returned in the response header and written into each audit event the
request adds, so a log line, a response and the audit trail can be matched.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from typing import cast

from flask import Flask
from flask import Response
from flask import g
from flask import has_request_context
from flask import jsonify
from flask import request
from flask import stream_with_context
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal_adapter import audit_log
from portal_adapter.models import AuditEvent
from portal_adapter.models import Role
from scim_server.admin.api import bp
from scim_server.admin.api import require_role
from scim_server.admin.api_helpers import page_args
from scim_server.admin.api_helpers import page_to_dict
from scim_server.admin.context import csv_download
from scim_server.admin.context import dbs

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_listener_installed = False


@bp.get("/audit")
@require_role(Role.administrator)
def list_audit() -> ResponseReturnValue:
    """Events newest first; filters ``actor``, ``action`` (``account.`` for a family),
    ``target``, ``since``, ``until`` (ISO 8601); ``page``/``per_page``."""
    criteria = audit_log.args_to_filter(request.args)
    offset, limit = page_args()
    page = audit_log.query_events(dbs(), criteria, offset=offset, limit=limit)
    return jsonify(page_to_dict(page, [audit_log.event_to_dict(e) for e in page.items]))


@bp.get("/audit.csv")
@require_role(Role.administrator)
def export_audit() -> ResponseReturnValue:
    """The matching events oldest first as CSV (same filters), streamed."""
    criteria = audit_log.args_to_filter(request.args)
    lines = audit_log.events_to_csv(audit_log.iter_events(dbs(), criteria))
    return csv_download(stream_with_context(lines), "audit.csv")


def _fill_request_ids(session: Session, _context: Any, _instances: Any) -> None:
    """Stamp new audit events with the current request's id (domain code cannot see it)."""
    if not has_request_context():
        return
    request_id = g.get("request_id")
    if request_id is None:
        return
    for obj in session.new:
        if isinstance(obj, AuditEvent) and obj.request_id is None:
            obj.request_id = request_id


def _install(app: Flask) -> None:
    global _listener_installed
    if not _listener_installed:
        event.listen(Session, "before_flush", _fill_request_ids)
        _listener_installed = True

    @app.before_request
    def _assign_request_id() -> None:
        presented = request.headers.get("X-Request-ID", "")
        g.request_id = presented if REQUEST_ID_RE.match(presented) else uuid.uuid4().hex

    @app.after_request
    def _return_request_id(response: Response) -> Response:
        if g.get("request_id"):
            response.headers["X-Request-ID"] = g.request_id
        return response


@bp.record_once
def _register(state: BlueprintSetupState) -> None:
    _install(cast("Flask", state.app))
