"""What the admin API and pages share: the session, who acts, query arguments, downloads.

The session check (``auth.session_check``) or an admin API token sets
``g.current_account`` before the view runs; ``require_role`` and ``page_role`` refuse the
request when there is none, so views behind them use :func:`signed_in`.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TypeVar
from typing import cast

from flask import Response
from flask import current_app
from flask import g
from flask import request
from sqlalchemy.orm import Session

from portal_adapter import accounts
from portal_adapter.errors import InvalidInput
from portal_adapter.models import Account
from scim_server.extensions import db

E = TypeVar("E", bound=StrEnum)


def dbs() -> Session:
    """The request's database session (the scoped session, typed as what it proxies)."""
    return cast("Session", db.session)


def current_account() -> Account | None:
    """The signed-in account of this request, set by the session check (or an API token)."""
    return cast("Account | None", g.get("current_account"))


def signed_in() -> Account:
    """The signed-in account, in a view behind ``require_role`` or ``page_role``."""
    account = current_account()
    assert account is not None  # the role decorators answered 401 / redirected otherwise
    return account


def actor() -> str:
    """The audit actor of this request: ``account:<username>``."""
    return accounts.actor_of(signed_in())


def bypass_url(secret: str | None) -> str | None:
    """The require-SSO bypass link for ``secret`` (auth serves it), or None when there is none."""
    if not secret:
        return None
    return f"{current_app.config['BASE_URL']}/login/local/{secret}"


def csv_download(body: str | Iterable[str], filename: str) -> Response:
    """A CSV attachment named ``filename`` (``body`` may be a stream of lines)."""
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def enum_arg(name: str, allowed: type[E]) -> E | None:
    """The query argument ``name`` as a member of ``allowed``, or None when blank.

    :raises InvalidInput: When it names no member.
    """
    value = request.args.get(name, "")
    if not value:
        return None
    try:
        return allowed(value)
    except ValueError as error:
        choices = ", ".join(member.value for member in allowed)
        raise InvalidInput(f"{name} must be one of {choices}") from error
