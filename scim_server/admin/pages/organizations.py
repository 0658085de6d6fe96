"""Organizations: add and edit, with the groups mapped to each.

Every signed-in account lists the organizations it may read; administrators and up
manage them (``portal_adapter.organizations`` decides who sees what).
"""

from __future__ import annotations

from flask import render_template
from flask import request
from flask.typing import ResponseReturnValue

from portal_adapter import groups
from portal_adapter import organizations as orgs
from portal_adapter.models import Role
from scim_server.admin.context import actor
from scim_server.admin.context import dbs
from scim_server.admin.context import signed_in
from scim_server.admin.pages.common import bp
from scim_server.admin.pages.common import done
from scim_server.admin.pages.common import page_role


@bp.get("/organizations")
@page_role(Role.read_only)
def organizations() -> ResponseReturnValue:
    """List the organizations the account may read, each with its groups."""
    session = dbs()
    listed = orgs.organizations_listed_for(session, signed_in())
    manages = orgs.manages_organizations(signed_in())
    return render_template(
        "admin/organizations.html",
        title="Organizations",
        organizations=listed,
        mapped={o.id: orgs.groups_of(session, o) for o in listed},
        manages=manages,
        all_groups=groups.list_groups(session).groups if manages else [],
    )


@bp.post("/organizations")
@page_role(Role.administrator)
def organizations_create() -> ResponseReturnValue:
    """Add an organization mapped to the checked groups."""
    organization = orgs.create_organization(
        dbs(),
        request.form.get("name", ""),
        group_ids=request.form.getlist("group_ids"),
        actor=actor(),
    )
    return done(
        f"Organization {organization.name} added.",
        "pages.organization",
        organization_id=organization.id,
    )


@bp.get("/organizations/<int:organization_id>")
@page_role(Role.read_only)
def organization(organization_id: int) -> ResponseReturnValue:
    """One organization, with the edit form for managers."""
    session = dbs()
    found = orgs.get_organization(session, signed_in(), organization_id)
    manages = orgs.manages_organizations(signed_in())
    return render_template(
        "admin/organization.html",
        title=f"Organization {found.name}",
        organization=found,
        mapped={g.id for g in orgs.groups_of(session, found)},
        mapped_groups=orgs.groups_of(session, found),
        manages=manages,
        all_groups=groups.list_groups(session).groups if manages else [],
    )


@bp.post("/organizations/<int:organization_id>")
@page_role(Role.administrator)
def organization_update(organization_id: int) -> ResponseReturnValue:
    """Rename the organization and map exactly the checked groups."""
    session = dbs()
    found = orgs.get_organization(session, signed_in(), organization_id)
    orgs.rename_organization(session, found, request.form.get("name", ""), actor=actor())
    orgs.set_groups(session, found, request.form.getlist("group_ids"), actor=actor())
    return done("Organization saved.", "pages.organization", organization_id=organization_id)


@bp.post("/organizations/<int:organization_id>/delete")
@page_role(Role.administrator)
def organization_delete(organization_id: int) -> ResponseReturnValue:
    """Delete the organization (its group mappings go with it)."""
    session = dbs()
    found = orgs.get_organization(session, signed_in(), organization_id)
    orgs.delete_organization(session, found, actor=actor())
    return done(f"Organization {found.name} deleted.", "pages.organizations")
