"""Tokens over the API: SCIM bearer tokens (superuser) and admin API tokens for scripts.

Scripts call /api/v1 with ``Authorization: Bearer uvapi_...``: the token acts as its
account, with that account's current role, and needs no CSRF header (no cookie).
"""

from __future__ import annotations

from flask import g
from flask import jsonify
from flask import request
from flask.typing import ResponseReturnValue

from portal_adapter import api_tokens
from portal_adapter import tokens
from portal_adapter.models import Role
from portal_adapter.models import ScimToken
from scim_server.admin.api import bp
from scim_server.admin.api import error_response
from scim_server.admin.api import require_role
from scim_server.admin.api_helpers import bounded_body
from scim_server.admin.context import actor
from scim_server.admin.context import dbs
from scim_server.admin.context import signed_in


@bp.before_request
def _authenticate_api_token() -> ResponseReturnValue | None:
    """Let an admin API token stand for its account on /api/v1 (401 when it is bad)."""
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented.startswith(api_tokens.TOKEN_PREFIX):
        return None
    found = api_tokens.verify_api_token(dbs(), presented)
    if found is None:
        dbs().rollback()
        response = error_response(401, "unauthenticated", "the API token is invalid or revoked")
        return response
    if dbs().dirty:
        dbs().commit()
    _, account = found
    g.current_account = account
    g.api_token_auth = True
    return None


def _scim_token_view(token: ScimToken) -> dict[str, object]:
    return {
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked": token.revoked_at is not None,
    }


@bp.get("/scim-tokens")
@require_role(Role.superuser)
def list_scim_tokens() -> ResponseReturnValue:
    """The SCIM bearer tokens (never their secrets)."""
    return jsonify(items=[_scim_token_view(t) for t in tokens.list_tokens(dbs())])


@bp.post("/scim-tokens")
@require_role(Role.superuser)
def create_scim_token() -> ResponseReturnValue:
    """Create a SCIM token; its secret is in this response only."""
    data = bounded_body({"name"}, required={"name"})
    issued = tokens.issue_token(dbs(), name=data["name"], actor=actor())
    dbs().commit()
    return jsonify(**_scim_token_view(issued.token), token=issued.secret), 201


@bp.delete("/scim-tokens/<name>")
@require_role(Role.superuser)
def revoke_scim_token(name: str) -> ResponseReturnValue:
    """Revoke a SCIM token at once."""
    changed = tokens.revoke_token(dbs(), name=name, actor=actor())
    dbs().commit()
    return jsonify(name=name, revoked=True, changed=changed)


@bp.get("/api-tokens")
@require_role(Role.administrator)
def list_api_tokens() -> ResponseReturnValue:
    """The caller's admin API tokens."""
    items = api_tokens.list_api_tokens(dbs(), signed_in())
    return jsonify(items=[api_tokens.token_to_dict(t) for t in items])


@bp.post("/api-tokens")
@require_role(Role.administrator)
def create_api_token() -> ResponseReturnValue:
    """Create an API token acting as the caller; its secret is in this response only."""
    data = bounded_body({"name"}, required={"name"})
    account = signed_in()
    issued = api_tokens.issue_api_token(dbs(), account, name=data["name"], actor=actor())
    dbs().commit()
    return jsonify(**api_tokens.token_to_dict(issued.token), token=issued.secret), 201


@bp.delete("/api-tokens/<int:token_id>")
@require_role(Role.administrator)
def revoke_api_token(token_id: int) -> ResponseReturnValue:
    """Revoke one of the caller's API tokens."""
    changed = api_tokens.revoke_api_token(dbs(), token_id, owner=signed_in(), actor=actor())
    dbs().commit()
    return jsonify(id=token_id, revoked=True, changed=changed)
