"""Users: the account list with search and filters, pending identities, one user's page.

Administrators manage accounts below superuser; only a superuser changes roles or manages
superusers (``portal_adapter.accounts`` decides; these views only pass the form along).
"""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask import request
from flask.typing import ResponseReturnValue

from portal_adapter import access
from portal_adapter import accounts
from portal_adapter import identities
from portal_adapter.errors import InvalidInput
from portal_adapter.models import AccountSource
from portal_adapter.models import AccountStatus
from portal_adapter.models import IdentityStatus
from portal_adapter.models import Role
from scim_server.admin.context import actor
from scim_server.admin.context import dbs
from scim_server.admin.context import enum_arg
from scim_server.admin.context import signed_in
from scim_server.admin.pages.common import bp
from scim_server.admin.pages.common import done
from scim_server.admin.pages.common import offset_arg
from scim_server.admin.pages.common import page_role

PAGE_SIZE = 50


@bp.get("/users")
@page_role(Role.administrator)
def users() -> ResponseReturnValue:
    """List accounts (search, role, status, source, flagged) and the pending identities."""
    page = accounts.list_accounts(
        dbs(),
        query=request.args.get("q", "").strip() or None,
        role=enum_arg("role", Role),
        status=enum_arg("status", AccountStatus),
        flagged=True if request.args.get("flagged") == "on" else None,
        source=enum_arg("source", AccountSource),
        offset=offset_arg(),
        limit=PAGE_SIZE,
    )
    pending = identities.list_identities(dbs(), status=IdentityStatus.pending, limit=PAGE_SIZE)
    return render_template(
        "admin/users.html",
        title="Users",
        page=page,
        pending=pending,
        roles=list(Role),
        statuses=list(AccountStatus),
        sources=list(AccountSource),
        args=request.args,
    )


@bp.get("/users/<int:account_id>")
@page_role(Role.administrator)
def user(account_id: int) -> ResponseReturnValue:
    """One account: its facts, groups, organizations; role, status and sessions forms."""
    session = dbs()
    account = accounts.get_account(session, account_id)
    return render_template(
        "admin/user.html",
        title=f"User {account.username}",
        account=account,
        identity=accounts.identity_of(session, account),
        groups=access.groups_for(session, account),
        organizations=access.organizations_for(session, account),
        roles=list(Role),
        may_change_role=accounts.may_change_roles(signed_in()),
    )


@bp.post("/users/<int:account_id>")
@page_role(Role.administrator)
def user_update(account_id: int) -> ResponseReturnValue:
    """Change a role, disable/enable, or clear the "deactivated at the provider" flag."""
    session = dbs()
    account = accounts.get_account(session, account_id)
    changes: dict[str, Any] = {}
    for key in ("role", "status"):
        if request.form.get(key):
            changes[key] = request.form[key]
    if request.form.get("flag") == "clear":
        changes["flag"] = False
    if not changes:
        raise InvalidInput("nothing to change")
    accounts.update_account(session, account, changes, actor=actor(), by=signed_in())
    return done(f"User {account.username} updated.", "pages.user", account_id=account_id)


@bp.post("/users/<int:account_id>/sessions/end")
@page_role(Role.administrator)
def user_end_sessions(account_id: int) -> ResponseReturnValue:
    """End every session of the account at once (it must sign in again)."""
    session = dbs()
    account = accounts.get_account(session, account_id)
    ended = accounts.end_sessions(session, account, actor=actor(), by=signed_in())
    return done(f"{ended} session(s) ended.", "pages.user", account_id=account_id)


@bp.post("/identities/<identity_id>/create-account")
@page_role(Role.administrator)
def identity_create_account(identity_id: str) -> ResponseReturnValue:
    """Create the account of a pending provider identity and link it."""
    session = dbs()
    identity = identities.get_identity(session, identity_id)
    account = identities.create_account_for(
        session,
        identity,
        actor=actor(),
        by=signed_in(),
        role=request.form.get("role", Role.read_only.value),
    )
    return done(f"Account {account.username} created.", "pages.user", account_id=account.id)
