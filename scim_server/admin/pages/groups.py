"""Groups: manual and KaseyaOne groups side by side, members, organization mapping.

While access groups are on, a KaseyaOne group's name and members are view-only here
(``portal_adapter.groups`` refuses edits with the reason); its organization mapping stays
editable.
"""

from __future__ import annotations

from flask import render_template
from flask import request
from flask.typing import ResponseReturnValue

from portal_adapter import access
from portal_adapter import accounts
from portal_adapter import groups
from portal_adapter import organizations
from portal_adapter.errors import InvalidInput
from portal_adapter.errors import NotFound
from portal_adapter.models import Role
from scim_server.admin.context import actor
from scim_server.admin.context import dbs
from scim_server.admin.context import signed_in
from scim_server.admin.pages.common import bp
from scim_server.admin.pages.common import done
from scim_server.admin.pages.common import offset_arg
from scim_server.admin.pages.common import page_role

PAGE_SIZE = 100
"""Groups per page: the list counts each group's members, so it stays short."""


def _ids(name: str) -> list[int]:
    """The checked organization ids of a form.

    :raises InvalidInput: When one is not a number.
    """
    try:
        return [int(value) for value in request.form.getlist(name)]
    except ValueError as error:
        raise InvalidInput(f"{name} must be organization ids") from error


@bp.get("/groups")
@page_role(Role.administrator)
def groups_list() -> ResponseReturnValue:
    """List manual and KaseyaOne groups with their source, members and organizations."""
    session = dbs()
    offset = offset_arg()
    page = groups.list_groups(session, offset=offset, limit=PAGE_SIZE)
    return render_template(
        "admin/groups.html",
        title="Groups",
        page=page,
        offset=offset,
        page_size=PAGE_SIZE,
        counts={group.id: groups.member_count(session, group) for group in page.groups},
        read_only={group.id: groups.is_read_only(session, group) for group in page.groups},
        access_groups=access.access_groups_active(session),
    )


@bp.post("/groups")
@page_role(Role.administrator)
def groups_create() -> ResponseReturnValue:
    """Create a manual group."""
    group = groups.create_group(dbs(), request.form.get("display_name", ""), actor=actor())
    return done(f"Group {group.display_name} created.", "pages.group", group_id=group.id)


@bp.get("/groups/<group_id>")
@page_role(Role.administrator)
def group(group_id: str) -> ResponseReturnValue:
    """One group: name, members and the organizations it is mapped to."""
    session = dbs()
    found = groups.get_group(session, group_id)
    return render_template(
        "admin/group.html",
        title=f"Group {found.display_name}",
        group=found,
        read_only=groups.is_read_only(session, found),
        members=groups.list_members(session, found),
        mapped={o.id for o in groups.organizations_of_groups(session, [found.id])[found.id]},
        all_organizations=organizations.organizations_listed_for(session, signed_in()),
    )


@bp.post("/groups/<group_id>/name")
@page_role(Role.administrator)
def group_rename(group_id: str) -> ResponseReturnValue:
    """Rename a manual group (refused for a KaseyaOne group while access groups are on)."""
    session = dbs()
    found = groups.get_group(session, group_id)
    groups.rename_group(session, found, request.form.get("display_name", ""), actor=actor())
    return done("Group renamed.", "pages.group", group_id=group_id)


@bp.post("/groups/<group_id>/delete")
@page_role(Role.administrator)
def group_delete(group_id: str) -> ResponseReturnValue:
    """Delete a manual group."""
    session = dbs()
    found = groups.get_group(session, group_id)
    groups.delete_group(session, found, actor=actor())
    return done(f"Group {found.display_name} deleted.", "pages.groups_list")


@bp.post("/groups/<group_id>/members")
@page_role(Role.administrator)
def group_add_member(group_id: str) -> ResponseReturnValue:
    """Add an account, by username, to a manual group."""
    session = dbs()
    found = groups.get_group(session, group_id)
    username = request.form.get("username", "").strip()
    account = accounts.find_by_username(session, username)
    if account is None:
        raise NotFound(f"no account named {username!r}")
    added = groups.add_member(session, found, account, actor=actor())
    message = f"{account.username} added." if added else f"{account.username} is already a member."
    return done(message, "pages.group", group_id=group_id)


@bp.post("/groups/<group_id>/members/<int:account_id>/remove")
@page_role(Role.administrator)
def group_remove_member(group_id: str, account_id: int) -> ResponseReturnValue:
    """Remove an account from a manual group."""
    session = dbs()
    found = groups.get_group(session, group_id)
    account = accounts.get_account(session, account_id)
    groups.remove_member(session, found, account, actor=actor())
    return done(f"{account.username} removed.", "pages.group", group_id=group_id)


@bp.post("/groups/<group_id>/organizations")
@page_role(Role.administrator)
def group_organizations(group_id: str) -> ResponseReturnValue:
    """Map the group to the checked organizations (editable for KaseyaOne groups too)."""
    session = dbs()
    found = groups.get_group(session, group_id)
    organizations.set_group_organizations(session, found, _ids("organization_ids"), actor=actor())
    return done("Organizations saved.", "pages.group", group_id=group_id)
