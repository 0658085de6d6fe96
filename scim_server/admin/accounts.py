"""/api/v1/accounts: list, get, create, update, disable and enable accounts, end sessions."""

from __future__ import annotations

from flask import jsonify
from flask import request
from flask.typing import ResponseReturnValue

from portal_adapter import accounts
from portal_adapter.models import AccountSource
from portal_adapter.models import AccountStatus
from portal_adapter.models import Role
from scim_server.admin.api import bp
from scim_server.admin.api import require_role
from scim_server.admin.api_helpers import bool_arg
from scim_server.admin.api_helpers import bounded_body
from scim_server.admin.api_helpers import page_args
from scim_server.admin.api_helpers import page_to_dict
from scim_server.admin.context import actor
from scim_server.admin.context import dbs
from scim_server.admin.context import enum_arg
from scim_server.admin.context import signed_in

CREATE_FIELDS = {"username", "email", "display_name", "role", "password"}


def _view(account_id: int) -> dict[str, object]:
    account = accounts.get_account(dbs(), account_id)
    return accounts.account_to_dict(account, identity=accounts.identity_of(dbs(), account))


@bp.get("/accounts")
@require_role(Role.administrator)
def list_accounts() -> ResponseReturnValue:
    """List accounts: ``?q=`` (username/email), ``role``, ``status``, ``source``,
    ``flagged``, pages."""
    offset, limit = page_args()
    page = accounts.list_accounts(
        dbs(),
        query=request.args.get("q") or None,
        role=enum_arg("role", Role),
        status=enum_arg("status", AccountStatus),
        flagged=bool_arg("flagged"),
        source=enum_arg("source", AccountSource),
        offset=offset,
        limit=limit,
    )
    linked = accounts.identities_of(dbs(), page.items)
    items = [accounts.account_to_dict(a, identity=linked.get(a.id)) for a in page.items]
    return jsonify(page_to_dict(page, items))


@bp.get("/accounts/<int:account_id>")
@require_role(Role.administrator)
def get_account(account_id: int) -> ResponseReturnValue:
    """One account, with its provider link and flags."""
    return jsonify(_view(account_id))


@bp.post("/accounts")
@require_role(Role.administrator)
def create_account() -> ResponseReturnValue:
    """Create a local account (a pending identity with the same username links to it)."""
    data = bounded_body(CREATE_FIELDS, required={"username"})
    account = accounts.create_account(
        dbs(),
        username=data["username"],
        actor=actor(),
        by=signed_in(),
        email=data.get("email"),
        display_name=data.get("display_name"),
        role=data.get("role", Role.read_only.value),
        password=data.get("password"),
    )
    dbs().commit()
    return jsonify(_view(account.id)), 201


@bp.patch("/accounts/<int:account_id>")
@require_role(Role.administrator)
def update_account(account_id: int) -> ResponseReturnValue:
    """Change email, display name, role (superuser only), password, status or the flag."""
    data = bounded_body(set(accounts.UPDATABLE))
    account = accounts.get_account(dbs(), account_id)
    accounts.update_account(dbs(), account, data, actor=actor(), by=signed_in())
    dbs().commit()
    return jsonify(_view(account_id))


@bp.post("/accounts/<int:account_id>/disable")
@require_role(Role.administrator)
def disable_account(account_id: int) -> ResponseReturnValue:
    """Disable an account; its sessions end at once."""
    account = accounts.get_account(dbs(), account_id)
    accounts.disable_account(
        dbs(), account, actor=actor(), reason="disabled by an administrator", by=signed_in()
    )
    dbs().commit()
    return jsonify(_view(account_id))


@bp.post("/accounts/<int:account_id>/enable")
@require_role(Role.administrator)
def enable_account(account_id: int) -> ResponseReturnValue:
    """Enable a disabled account."""
    account = accounts.get_account(dbs(), account_id)
    accounts.enable_account(dbs(), account, actor=actor(), by=signed_in())
    dbs().commit()
    return jsonify(_view(account_id))


@bp.post("/accounts/<int:account_id>/sessions/end")
@require_role(Role.administrator)
def end_sessions(account_id: int) -> ResponseReturnValue:
    """End every live session of the account at once: ``{"sessions_ended": N}``."""
    account = accounts.get_account(dbs(), account_id)
    ended = accounts.end_sessions(dbs(), account, actor=actor(), by=signed_in())
    dbs().commit()
    return jsonify(sessions_ended=ended)
