"""What every admin page shares: the blueprint, sign-in and role checks, errors, the actor.

Domain errors are translated here, in one place: a refused form shows the rule's detail as
a message on the page it came from (PRG), a missing object is a 404 page and a role that
is too low is a 403 page.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any
from typing import TypeVar
from typing import cast
from urllib.parse import urlencode
from urllib.parse import urlsplit

from flask import Blueprint
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue
from flask.wrappers import Response
from flask_wtf.csrf import CSRFError

from portal_adapter.errors import Forbidden
from portal_adapter.errors import InvalidInput
from portal_adapter.errors import NotFound
from portal_adapter.errors import PortalError
from portal_adapter.models import Role
from scim_server.admin.context import current_account
from scim_server.admin.context import dbs

logger = logging.getLogger(__name__)
bp = Blueprint("pages", __name__, url_prefix="/admin")

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])

NAVIGATION: tuple[tuple[str, str, Role], ...] = (
    ("pages.integrations", "Integrations", Role.superuser),
    ("pages.users", "Users", Role.administrator),
    ("pages.groups_list", "Groups", Role.administrator),
    ("pages.organizations", "Organizations", Role.read_only),
    ("pages.audit", "Audit log", Role.administrator),
)
"""The settings navigation: endpoint, label and the lowest role that sees the page."""


def page_role(role: Role) -> Callable[[F], F]:
    """Send visitors without a session to /login; answer 403 below ``role``.

    CSRF is checked before this by the app's CSRFProtect on every POST.
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            account = current_account()
            if account is None:
                # /login belongs to the auth package; it honours a safe local ``next``.
                return redirect("/login?" + urlencode({"next": _here()}))
            if not account.role.at_least(role):
                logger.info("page refused: %s below %s", account.username, role.value)
                return error_page(403, f"This page needs the {role.value} role.")
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


def error_page(status: int, detail: str) -> ResponseReturnValue:
    """Render the error page with ``status``."""
    titles = {403: "Not allowed", 404: "Not found", 400: "Request refused"}
    return (
        render_template("admin/error.html", title=titles.get(status, "Error"), detail=detail),
        status,
    )


def done(message: str, endpoint: str, **values: Any) -> ResponseReturnValue:
    """Flash a success message and redirect (303, so a reload does not post again)."""
    dbs().commit()
    flash(message, "success")
    return redirect(url_for(endpoint, **values), code=303)


def offset_arg() -> int:
    """The list page's ``?offset=`` (0 when absent or negative).

    :raises InvalidInput: When it is not a whole number.
    """
    try:
        return max(0, int(request.args.get("offset", "0")))
    except ValueError as error:
        raise InvalidInput("offset must be a whole number") from error


def visible_nav() -> list[tuple[str, str]]:
    """The navigation entries the signed-in account's role may open."""
    account = current_account()
    if account is None:
        return []
    return [
        (endpoint, label)
        for endpoint, label, role in NAVIGATION
        if account.role.at_least(role) and endpoint in current_app.view_functions
    ]


def _here() -> str:
    """This request's path with its query string."""
    query = request.query_string.decode()
    return request.path + (f"?{query}" if query else "")


def _back_url() -> str:
    """Where a refused form returns: the page it was posted from when that is ours."""
    referrer = request.referrer or ""
    parts = urlsplit(referrer)
    if parts.netloc == request.host and parts.path.startswith("/admin"):
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return request.path if request.method == "GET" else url_for("pages.home")


PAGE_HEADERS = {
    # The pages carry one-click forms (reset, revoke, end sessions): no foreign frame may
    # hold them (clickjacking), and they show secrets (the bypass link) no cache may keep.
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@bp.after_request
def _page_headers(response: Response) -> Response:
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@bp.app_context_processor
def _navigation() -> dict[str, Any]:
    return {"admin_nav": visible_nav}


@bp.errorhandler(CSRFError)
def _csrf_error(error: CSRFError) -> ResponseReturnValue:
    logger.info("page refused: csrf %s", error.description)
    return error_page(
        400,
        "The form was not accepted (its security token is missing or expired). "
        "Reload the page and try again.",
    )


@bp.errorhandler(PortalError)
def _portal_error(error: PortalError) -> ResponseReturnValue:
    dbs().rollback()
    logger.info("page refused: %s %s", error.code, error.detail)
    if isinstance(error, Forbidden):
        return error_page(403, error.detail)
    if isinstance(error, NotFound):
        return error_page(404, error.detail)
    if request.method == "GET":
        return error_page(400, error.detail)
    flash(error.detail, "error")
    return redirect(_back_url(), code=303)
