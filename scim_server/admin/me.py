"""``GET /api/v1/me``: who is signed in, with their groups and the organizations they see."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from portal_adapter import access
from portal_adapter.models import Account
from portal_adapter.models import Group
from portal_adapter.models import Organization
from portal_adapter.models import Role
from scim_server.admin.api import bp
from scim_server.admin.api import require_role
from scim_server.admin.context import dbs
from scim_server.admin.context import signed_in


def me_to_json(
    account: Account, groups: list[Group], organizations: list[Organization]
) -> dict[str, Any]:
    """The body of ``GET /api/v1/me``."""
    return {
        "id": account.id,
        "username": account.username,
        "display_name": account.display_name,
        "email": account.email,
        "role": account.role.value,
        "groups": [
            {"id": group.id, "display_name": group.display_name, "source": group.source.value}
            for group in groups
        ],
        "organizations": [
            {"id": organization.id, "name": organization.name} for organization in organizations
        ],
    }


@bp.get("/me")
@require_role(Role.read_only)
def me() -> ResponseReturnValue:
    """The signed-in account (401 JSON without a session)."""
    account = signed_in()
    session = dbs()
    return jsonify(
        me_to_json(
            account,
            access.groups_for(session, account),
            access.organizations_for(session, account),
        )
    )
