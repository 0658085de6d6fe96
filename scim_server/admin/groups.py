"""``/api/v1/groups`` and ``/api/v1/integration/groups-import``.

Manual and provider groups are listed side by side with their source. While access
groups are on, a provider group's name and members answer 409 "managed by KaseyaOne";
its organization mapping stays editable.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask import request
from flask.typing import ResponseReturnValue

from portal_adapter import accounts
from portal_adapter import groups
from portal_adapter import organizations
from portal_adapter.errors import InvalidInput
from portal_adapter.models import Group
from portal_adapter.models import GroupSource
from portal_adapter.models import Organization
from portal_adapter.models import Role
from scim_server.admin.api import bp
from scim_server.admin.api import json_body
from scim_server.admin.api import require_role
from scim_server.admin.context import actor
from scim_server.admin.context import dbs


def group_to_json(
    group: Group, *, read_only: bool, organizations_: list[Organization]
) -> dict[str, Any]:
    """One group as the API shows it."""
    return {
        "id": group.id,
        "display_name": group.display_name,
        "source": group.source.value,
        "external_id": group.external_id,
        "read_only": read_only,
        "organizations": [{"id": o.id, "name": o.name} for o in organizations_],
        "last_modified": group.last_modified.isoformat(),
    }


def member_to_json(member: groups.Member) -> dict[str, Any]:
    """One member of a group."""
    return {
        "account_id": member.account_id,
        "username": member.username,
        "identity_id": member.identity_id,
        "source": member.source.value,
    }


def status_to_json(status: groups.GroupsImportStatus) -> dict[str, Any]:
    """The body of ``GET /api/v1/integration/groups-import``."""

    def when(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "access_groups": status.access_groups,
        "groups_received": status.groups_received,
        "memberships_received": status.memberships_received,
        "mapped_groups": status.mapped_groups,
        "unmapped_groups": status.groups_received - status.mapped_groups,
        "last_provider_activity_at": when(status.last_provider_activity_at),
        "last_group_change_at": when(status.last_group_change_at),
        "errors": [
            {"at": when(e.at), "action": e.action, "target": e.target, "detail": e.detail}
            for e in status.errors
        ],
    }


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise InvalidInput(f"{name} must be a non-negative integer")
    return int(raw)


def _body(group: Group) -> dict[str, Any]:
    session = dbs()
    body = group_to_json(
        group,
        read_only=groups.is_read_only(session, group),
        organizations_=groups.organizations_of_groups(session, [group.id])[group.id],
    )
    body["member_count"] = groups.member_count(session, group)
    return body


@bp.get("/groups")
@require_role(Role.administrator)
def list_groups() -> ResponseReturnValue:
    """Manual and provider groups, by name: ``?source=manual|provider&offset=&limit=``."""
    raw_source = request.args.get("source")
    if raw_source is not None and raw_source not in GroupSource.__members__:
        raise InvalidInput("source must be manual or provider")
    session = dbs()
    page = groups.list_groups(
        session,
        source=GroupSource(raw_source) if raw_source else None,
        offset=_int_arg("offset", 0),
        limit=_int_arg("limit", groups.DEFAULT_PAGE),
    )
    return jsonify(
        total=page.total,
        groups=[
            group_to_json(
                group,
                read_only=page.is_read_only(group),
                organizations_=page.organizations[group.id],
            )
            for group in page.groups
        ],
    )


@bp.post("/groups")
@require_role(Role.administrator)
def create_group() -> ResponseReturnValue:
    """Create a manual group: ``{"display_name": ..., "organization_ids": [...]}``."""
    data = json_body({"display_name", "organization_ids"}, required={"display_name"})
    session = dbs()
    group = groups.create_group(session, data["display_name"], actor=actor())
    if "organization_ids" in data:
        organizations.set_group_organizations(
            session, group, data["organization_ids"], actor=actor()
        )
    body = _body(group)
    session.commit()
    return jsonify(body), 201


@bp.get("/groups/<group_id>")
@require_role(Role.administrator)
def get_group(group_id: str) -> ResponseReturnValue:
    """One group with its member count and organizations."""
    return jsonify(_body(groups.get_group(dbs(), group_id)))


@bp.patch("/groups/<group_id>")
@require_role(Role.administrator)
def update_group(group_id: str) -> ResponseReturnValue:
    """Rename (manual groups, or provider groups while access groups are off) and/or re-map.

    ``{"display_name": ..., "organization_ids": [...]}``; the mapping is replaced.
    """
    data = json_body({"display_name", "organization_ids"})
    session = dbs()
    group = groups.get_group(session, group_id)
    if "display_name" in data:
        groups.rename_group(session, group, data["display_name"], actor=actor())
    if "organization_ids" in data:
        organizations.set_group_organizations(
            session, group, data["organization_ids"], actor=actor()
        )
    body = _body(group)
    session.commit()
    return jsonify(body)


@bp.delete("/groups/<group_id>")
@require_role(Role.administrator)
def delete_group(group_id: str) -> ResponseReturnValue:
    """Delete a group the portal owns (409 for a provider group while access groups are on)."""
    session = dbs()
    groups.delete_group(session, groups.get_group(session, group_id), actor=actor())
    session.commit()
    return "", 204


@bp.get("/groups/<group_id>/members")
@require_role(Role.administrator)
def list_members(group_id: str) -> ResponseReturnValue:
    """One page of members, oldest first: ``?offset=&limit=`` (at most 1000)."""
    session = dbs()
    group = groups.get_group(session, group_id)
    members = groups.list_members(
        session, group, offset=_int_arg("offset", 0), limit=_int_arg("limit", groups.DEFAULT_PAGE)
    )
    return jsonify(
        total=groups.member_count(session, group),
        members=[member_to_json(member) for member in members],
    )


@bp.put("/groups/<group_id>/members/<int:account_id>")
@require_role(Role.administrator)
def add_member(group_id: str, account_id: int) -> ResponseReturnValue:
    """Add an account to a group by hand (201 when new, 200 when it was a member)."""
    session = dbs()
    group = groups.get_group(session, group_id)
    account = accounts.get_account(session, account_id)
    added = groups.add_member(session, group, account, actor=actor())
    session.commit()
    return jsonify(added=added), 201 if added else 200


@bp.delete("/groups/<group_id>/members/<int:account_id>")
@require_role(Role.administrator)
def remove_member(group_id: str, account_id: int) -> ResponseReturnValue:
    """Remove an account from a group (204 whether or not it was a member)."""
    session = dbs()
    group = groups.get_group(session, group_id)
    account = accounts.get_account(session, account_id)
    groups.remove_member(session, group, account, actor=actor())
    session.commit()
    return "", 204


@bp.get("/integration/groups-import")
@require_role(Role.administrator)
def groups_import_status() -> ResponseReturnValue:
    """What the provider sent so far: groups, memberships, last activity, errors."""
    return jsonify(status_to_json(groups.import_status(dbs())))
