"""What every admin request (API and pages) reads from its context: session, actor, URLs.

The session check (``auth.session_check``) or an admin API token sets
``g.current_account`` before the view runs; ``require_role`` and ``page_role`` refuse the
request when there is none, so views behind them use :func:`signed_in`.
"""

from __future__ import annotations

from typing import cast

from flask import current_app
from flask import g
from sqlalchemy.orm import Session

from portal_adapter import accounts
from portal_adapter.models import Account
from scim_server.extensions import db


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
