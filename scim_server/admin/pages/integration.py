"""The Integrations view and the KaseyaOne configuration page (superuser only).

Settings are changed one section at a time, exactly as the product documentation walks
through them ("Under Require Log In With KaseyaOne, click the toggle ..."). Each section's
form names the settings it carries, so an unchecked switch means "off" for that section only.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask import render_template
from flask import request
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from portal_adapter import accounts
from portal_adapter import groups
from portal_adapter import identities
from portal_adapter import integration
from portal_adapter import reset
from portal_adapter import settings_sync
from portal_adapter import tokens
from portal_adapter.errors import InvalidInput
from portal_adapter.models import DeprovisionAction
from portal_adapter.models import Role
from scim_server.admin.context import actor
from scim_server.admin.context import bypass_url
from scim_server.admin.context import csv_download
from scim_server.admin.context import dbs
from scim_server.admin.pages.common import bp
from scim_server.admin.pages.common import done
from scim_server.admin.pages.common import page_role

SECTIONS: dict[str, tuple[str, ...]] = {
    "unified_login": ("unified_login",),
    "require_sso": ("require_sso", "sso_exceptions"),
    "auto_create_users": ("auto_create_users", "default_role"),
    "auto_deprovision": ("auto_deprovision", "deprovision_action"),
    "access_groups": ("access_groups",),
}
"""Each form section of the page and the settings it posts."""

SWITCHES = frozenset(
    {"unified_login", "require_sso", "auto_create_users", "auto_deprovision", "access_groups"}
)


def section_changes(section: str, form: MultiDict[str, str]) -> dict[str, Any]:
    """Turn one section's form into the settings change it asks for.

    A switch absent from the form is off (browsers do not send unchecked boxes); a
    disabled control is absent too, and the settings rules then refuse any real change.

    :raises InvalidInput: When the section is unknown.
    """
    keys = SECTIONS.get(section)
    if keys is None:
        raise InvalidInput(f"unknown settings section: {section!r}")
    changes: dict[str, Any] = {}
    for key in keys:
        if key in SWITCHES:
            changes[key] = form.get(key) == "on"
        elif key == "sso_exceptions":
            changes[key] = form.getlist(key)
        elif key in form:
            changes[key] = form[key]
    return changes


def _render_configuration(*, new_token: tokens.IssuedToken | None = None) -> str:
    session = dbs()
    row = integration.get_settings(session)
    settings = integration.read_settings(session)
    exception_candidates = accounts.with_local_password(session)
    candidate_names = {account.username_ci for account in exception_candidates}
    # Exceptions set elsewhere (API, CLI, provider) stay on the form, so saving it keeps them.
    other_exceptions = [name for name in settings.sso_exceptions if name not in candidate_names]
    changes = settings_sync.list_entries(session, limit=5)
    return render_template(
        "admin/integration_kaseyaone.html",
        title="KaseyaOne integration",
        row=row,
        settings=settings,
        default_roles=integration.DEFAULT_ROLE_CHOICES,
        deprovision_actions=list(DeprovisionAction),
        exception_candidates=exception_candidates,
        other_exceptions=other_exceptions,
        bypass_url=bypass_url(row.bypass_secret),
        scim_base_url=f"{current_app.config['BASE_URL']}/scim/v2",
        tokens=tokens.list_tokens(session),
        new_token=new_token,
        imported=groups.import_status(session),
        users_received=identities.list_identities(session, limit=0).total,
        changes=changes,
    )


@bp.get("/integrations")
@page_role(Role.superuser)
def integrations() -> ResponseReturnValue:
    """The Integrations view: the KaseyaOne integration with "Show configuration"."""
    settings = integration.read_settings(dbs())
    return render_template("admin/integrations.html", title="Integrations", settings=settings)


@bp.get("/integrations/kaseyaone")
@page_role(Role.superuser)
def kaseyaone() -> ResponseReturnValue:
    """The KaseyaOne configuration: one switch per setting, SCIM connection, reset."""
    return _render_configuration()


@bp.post("/integrations/kaseyaone/settings")
@page_role(Role.superuser)
def kaseyaone_settings() -> ResponseReturnValue:
    """Apply one section of the settings under the integration's rules."""
    changes = section_changes(request.form.get("section", ""), request.form)
    change = integration.update_settings(dbs(), changes, actor=actor())
    message = "Saved; the change is being pushed to KaseyaOne." if change.changed else "No change."
    return done(message, "pages.kaseyaone")


@bp.post("/integrations/kaseyaone/bypass-link")
@page_role(Role.superuser)
def kaseyaone_rotate_bypass() -> ResponseReturnValue:
    """Replace the bypass link (the old one stops working at once)."""
    integration.rotate_bypass_secret(dbs(), actor=actor())
    return done("A new bypass link was made; the old one no longer works.", "pages.kaseyaone")


@bp.post("/integrations/kaseyaone/tokens")
@page_role(Role.superuser)
def kaseyaone_create_token() -> ResponseReturnValue:
    """Create a SCIM token and show its secret this once (never stored, never in a cookie)."""
    name = request.form.get("name", "").strip()
    issued = tokens.issue_token(dbs(), name=name, actor=actor())
    dbs().commit()
    # The page holds the secret: no cache may keep it.
    return _render_configuration(new_token=issued), 200, {"Cache-Control": "no-store"}


@bp.post("/integrations/kaseyaone/tokens/revoke")
@page_role(Role.superuser)
def kaseyaone_revoke_token() -> ResponseReturnValue:
    """Revoke a SCIM token by name."""
    name = request.form.get("name", "")
    revoked = tokens.revoke_token(dbs(), name=name, actor=actor())
    return done(
        f"Token {name} revoked." if revoked else f"Token {name} was already revoked.",
        "pages.kaseyaone",
    )


@bp.get("/integrations/kaseyaone/reset")
@page_role(Role.superuser)
def kaseyaone_reset() -> ResponseReturnValue:
    """The "Reset KaseyaOne integration" dialog: export first, type the name to confirm."""
    session = dbs()
    affected = reset.affected_accounts(session)
    return render_template(
        "admin/integration_reset.html",
        title="Reset KaseyaOne integration",
        row=integration.get_settings(session),
        affected=affected,
        affected_csv=reset.affected_to_csv(affected),
    )


@bp.get("/integrations/kaseyaone/reset/affected-users.csv")
@page_role(Role.superuser)
def kaseyaone_reset_export() -> ResponseReturnValue:
    """Download the CSV of the accounts a reset affects."""
    body = reset.affected_to_csv(reset.affected_accounts(dbs()))
    return csv_download(body, "kaseyaone-affected-users.csv")


@bp.post("/integrations/kaseyaone/reset")
@page_role(Role.superuser)
def kaseyaone_reset_confirm() -> ResponseReturnValue:
    """Reset the integration once its name is typed to confirm."""
    outcome = reset.reset_integration(dbs(), actor=actor(), confirm=request.form.get("confirm", ""))
    return done(
        f"The KaseyaOne integration was reset: {len(outcome.deleted)} account(s) removed, "
        f"{len(outcome.unlinked)} unlinked.",
        "pages.integrations",
    )
