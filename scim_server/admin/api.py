"""The /api/v1 blueprint and what every endpoint shares: who is calling, CSRF, errors, JSON input.

Endpoint modules (``accounts``, ``integration``, ``organizations`` ...) add their routes to
``bp``; ``scim_server.admin.init_app`` imports them and registers the blueprint once.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import Any
from typing import TypeVar
from typing import cast

from flask import Blueprint
from flask import g
from flask import jsonify
from flask import request
from flask.typing import ResponseReturnValue
from flask.wrappers import Response
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError

from portal_adapter.errors import Conflict
from portal_adapter.errors import Forbidden
from portal_adapter.errors import InvalidInput
from portal_adapter.errors import NotFound
from portal_adapter.errors import PortalError
from portal_adapter.models import Role
from scim_server.admin.context import current_account
from scim_server.extensions import db

logger = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api/v1")

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
STATUS_OF: dict[type[PortalError], int] = {
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    InvalidInput: 400,
}


def require_role(role: Role) -> Callable[[F], F]:
    """Refuse with 401 without a session, 403 below ``role``; check CSRF on unsafe methods."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            account = current_account()
            if account is None:
                return error_response(401, "unauthenticated", "sign in first")
            if request.method in UNSAFE_METHODS and not g.get("api_token_auth", False):
                try:
                    presented = request.headers.get("X-CSRF-Token")
                    presented = presented or request.form.get("csrf_token")
                    validate_csrf(presented)
                except CSRFError as error:
                    return error_response(403, "csrf", f"CSRF check failed: {error.description}")
                except ValidationError as error:
                    # validate_csrf raises ValidationError (CSRFError is protect()'s).
                    return error_response(403, "csrf", f"CSRF check failed: {error}")
            if not account.role.at_least(role):
                return error_response(403, "forbidden", f"this needs the {role.value} role")
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


def json_body(
    allowed: AbstractSet[str], *, required: AbstractSet[str] = frozenset()
) -> dict[str, Any]:
    """Return the request's JSON object, refusing unknown or missing fields.

    :raises InvalidInput: When the body is not a JSON object, or has unknown/missing fields.
    """
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object (Content-Type: application/json)")
    unknown = set(data) - allowed
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    missing = set(required) - set(data)
    if missing:
        raise InvalidInput(f"missing field(s): {', '.join(sorted(missing))}")
    return data


def error_response(status: int, code: str, detail: str) -> ResponseReturnValue:
    """A JSON error body: ``{"error": code, "detail": detail}``."""
    return jsonify(error=code, detail=detail), status


@bp.after_request
def _no_store(response: Response) -> Response:
    # Answers carry secrets (a new token, the bypass link) and per-account data.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.errorhandler(PortalError)
def _portal_error(error: PortalError) -> ResponseReturnValue:
    db.session.rollback()
    status = next((s for cls, s in STATUS_OF.items() if isinstance(error, cls)), 400)
    logger.info("api refused: %s %s", error.code, error.detail)
    return error_response(status, error.code, error.detail)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> ResponseReturnValue:
    db.session.rollback()
    code = error.name.lower().replace(" ", "_")
    return error_response(error.code or 500, code, error.description or "")
