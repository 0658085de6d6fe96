"""Helpers the admin endpoint modules share: pagination, bounded JSON bodies, query flags."""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from portal_adapter.accounts import Page
from portal_adapter.errors import InvalidInput
from scim_server.admin.api import json_body

API_MAX_BODY = 64 * 1024
"""The admin API's bodies are small settings and account changes; refuse more early."""
MAX_PER_PAGE = 500


def bounded_body(
    allowed: set[str], *, required: set[str] | None = None, optional: bool = False
) -> dict[str, Any]:
    """Return the JSON object body, refusing large bodies (413) and unknown/missing fields.

    With ``optional``, an empty body reads as ``{}`` (for actions that take no input).

    :raises RequestEntityTooLarge: When the body is over API_MAX_BODY bytes.
    :raises InvalidInput: When the body is not an object, or has unknown or missing fields.
    """
    if request.content_length is not None and request.content_length > API_MAX_BODY:
        raise RequestEntityTooLarge(f"the body must be at most {API_MAX_BODY} bytes")
    if len(request.get_data(cache=True)) > API_MAX_BODY:
        raise RequestEntityTooLarge(f"the body must be at most {API_MAX_BODY} bytes")
    if optional and not request.get_data(cache=True):
        return {}
    return json_body(allowed, required=required or set())


def page_args(default: int = 50) -> tuple[int, int]:
    """Return (offset, limit) from ``?page=`` (1-based) and ``?per_page=``.

    :raises InvalidInput: When they are not positive integers in range.
    """
    try:
        page = int(request.args.get("page", "1"))
        per_page = int(request.args.get("per_page", str(default)))
    except ValueError:
        raise InvalidInput("page and per_page must be integers") from None
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"page must be at least 1 and per_page between 1 and {MAX_PER_PAGE}")
    return (page - 1) * per_page, per_page


def page_to_dict(page: Page, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON envelope of a listing."""
    return {
        "items": items,
        "total": page.total,
        "page": page.offset // page.limit + 1,
        "per_page": page.limit,
    }


def bool_arg(name: str) -> bool | None:
    """Return a ``true``/``false`` query argument, or None when absent.

    :raises InvalidInput: When it is neither.
    """
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise InvalidInput(f"{name} must be true or false")
