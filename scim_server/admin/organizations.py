"""``/api/v1/organizations``: the MSP's customers and the groups mapped to them.

Administrators and up manage every organization; every signed-in account may read the
organizations it sees, and one it does not see answers 404 (never 403: ids do not leak).
"""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from portal_adapter import organizations
from portal_adapter.models import Group
from portal_adapter.models import Organization
from portal_adapter.models import Role
from scim_server.admin.api import bp
from scim_server.admin.api import json_body
from scim_server.admin.api import require_role
from scim_server.admin.context import actor
from scim_server.admin.context import dbs
from scim_server.admin.context import signed_in


def organization_to_json(organization: Organization, groups: list[Group] | None) -> dict[str, Any]:
    """One organization; ``groups`` is None when the caller may not see the mapping."""
    body: dict[str, Any] = {
        "id": organization.id,
        "name": organization.name,
        "created_at": organization.created_at.isoformat(),
    }
    if groups is not None:
        body["groups"] = [
            {"id": group.id, "display_name": group.display_name, "source": group.source.value}
            for group in groups
        ]
    return body


def _body(organization: Organization) -> dict[str, Any]:
    """The organization as this caller may read it (the mapping for managers only)."""
    groups = (
        organizations.groups_of(dbs(), organization)
        if organizations.manages_organizations(signed_in())
        else None
    )
    return organization_to_json(organization, groups)


@bp.get("/organizations")
@require_role(Role.read_only)
def list_organizations() -> ResponseReturnValue:
    """The organizations the caller may read, by name."""
    listed = organizations.organizations_listed_for(dbs(), signed_in())
    return jsonify(organizations=[_body(organization) for organization in listed])


@bp.post("/organizations")
@require_role(Role.administrator)
def create_organization() -> ResponseReturnValue:
    """Create an organization: ``{"name": ..., "group_ids": [...]}``."""
    data = json_body({"name", "group_ids"}, required={"name"})
    organization = organizations.create_organization(
        dbs(), data["name"], group_ids=data.get("group_ids"), actor=actor()
    )
    body = _body(organization)
    dbs().commit()
    return jsonify(body), 201


@bp.get("/organizations/<int:organization_id>")
@require_role(Role.read_only)
def get_organization(organization_id: int) -> ResponseReturnValue:
    """One organization the caller may read; 404 for one it does not see."""
    organization = organizations.get_organization(dbs(), signed_in(), organization_id)
    return jsonify(_body(organization))


@bp.patch("/organizations/<int:organization_id>")
@require_role(Role.administrator)
def update_organization(organization_id: int) -> ResponseReturnValue:
    """Rename and/or re-map: ``{"name": ..., "group_ids": [...]}`` (the mapping is replaced)."""
    data = json_body({"name", "group_ids"})
    session = dbs()
    organization = organizations.get_organization(session, signed_in(), organization_id)
    if "name" in data:
        organizations.rename_organization(session, organization, data["name"], actor=actor())
    if "group_ids" in data:
        organizations.set_groups(session, organization, data["group_ids"], actor=actor())
    body = _body(organization)
    session.commit()
    return jsonify(body)


@bp.delete("/organizations/<int:organization_id>")
@require_role(Role.administrator)
def delete_organization(organization_id: int) -> ResponseReturnValue:
    """Delete an organization and its mappings."""
    session = dbs()
    organization = organizations.get_organization(session, signed_in(), organization_id)
    organizations.delete_organization(session, organization, actor=actor())
    session.commit()
    return "", 204
