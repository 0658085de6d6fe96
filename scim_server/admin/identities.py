"""/api/v1/identities: provider users, pending ones, and creating or linking their accounts."""

from __future__ import annotations

from flask import jsonify
from flask import request
from flask.typing import ResponseReturnValue

from portal_adapter import accounts
from portal_adapter import identities
from portal_adapter.errors import InvalidInput
from portal_adapter.models import Role
from scim_server.admin.api import bp
from scim_server.admin.api import require_role
from scim_server.admin.api_helpers import bounded_body
from scim_server.admin.api_helpers import page_args
from scim_server.admin.api_helpers import page_to_dict
from scim_server.admin.context import actor
from scim_server.admin.context import dbs
from scim_server.admin.context import signed_in


@bp.get("/identities")
@require_role(Role.administrator)
def list_identities() -> ResponseReturnValue:
    """Provider identities; ``?status=pending`` lists those waiting for an account."""
    offset, limit = page_args()
    status = identities.parse_status(request.args.get("status"))
    page = identities.list_identities(dbs(), status=status, offset=offset, limit=limit)
    return jsonify(page_to_dict(page, [identities.identity_to_dict(i) for i in page.items]))


@bp.get("/identities/<identity_id>")
@require_role(Role.administrator)
def get_identity(identity_id: str) -> ResponseReturnValue:
    """One provider identity."""
    return jsonify(identities.identity_to_dict(identities.get_identity(dbs(), identity_id)))


@bp.post("/identities/<identity_id>/account")
@require_role(Role.administrator)
def create_account_for(identity_id: str) -> ResponseReturnValue:
    """Create the account of a pending identity (optional ``role``, superuser only above
    read_only) and link it."""
    data = bounded_body({"role"})
    identity = identities.get_identity(dbs(), identity_id)
    account = identities.create_account_for(
        dbs(),
        identity,
        actor=actor(),
        by=signed_in(),
        role=data.get("role", Role.read_only.value),
    )
    dbs().commit()
    return jsonify(accounts.account_to_dict(account, identity=identity)), 201


@bp.post("/identities/<identity_id>/link")
@require_role(Role.administrator)
def link_identity(identity_id: str) -> ResponseReturnValue:
    """Link a pending identity to an existing account: ``{"account_id": N}``."""
    data = bounded_body({"account_id"}, required={"account_id"})
    account_id = data["account_id"]
    if not isinstance(account_id, int) or isinstance(account_id, bool):
        raise InvalidInput("account_id must be an integer")
    identity = identities.get_identity(dbs(), identity_id)
    account = accounts.get_account(dbs(), account_id)
    identities.link_to_account(dbs(), identity, account, actor=actor(), by=signed_in())
    dbs().commit()
    return jsonify(accounts.account_to_dict(account, identity=identity))
