"""/api/v1/integration: the settings and their rules, reset with its export, settings sync.

Also adds the integration on a fresh install once an OIDC provider is configured
(``portal_adapter.integration.ensure_installed``, run at the first request).
"""

from __future__ import annotations

import logging
from typing import Any
from typing import cast

from flask import Flask
from flask import jsonify
from flask import request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from portal_adapter import integration
from portal_adapter import reset
from portal_adapter import settings_sync
from portal_adapter import tokens
from portal_adapter.models import Role
from scim_server.admin.api import bp
from scim_server.admin.api import require_role
from scim_server.admin.api_helpers import bounded_body
from scim_server.admin.context import actor
from scim_server.admin.context import bypass_url
from scim_server.admin.context import csv_download
from scim_server.admin.context import dbs
from scim_server.admin.context import signed_in

logger = logging.getLogger(__name__)
SETTINGS_FIELDS = set(integration.EDITABLE) | set(integration.READ_ONLY)


def _settings_view() -> dict[str, Any]:
    row = integration.get_settings(dbs())
    view = integration.read_settings(dbs()).as_dict()
    view["name"] = row.name
    view["installed"] = row.installed
    view["last_provider_activity_at"] = (
        row.last_provider_activity_at.isoformat() if row.last_provider_activity_at else None
    )
    view["rules"] = {
        "unified_login": integration.RULE_UNIFIED_LOGIN,
        "default_role": integration.RULE_DEFAULT_ROLE,
        "require_sso": integration.RULE_REQUIRE_SSO,
    }
    if signed_in().role is Role.superuser and row.bypass_secret:
        view["bypass_link"] = bypass_url(row.bypass_secret)
    return view


@bp.get("/integration")
@require_role(Role.administrator)
def get_integration() -> ResponseReturnValue:
    """The effective settings (toggles read off while unified login is off), revision and
    sync status; superusers also see the bypass link."""
    return jsonify(_settings_view())


@bp.patch("/integration")
@require_role(Role.superuser)
def patch_integration() -> ResponseReturnValue:
    """Change settings under the rules: 409 naming the rule when one refuses."""
    data = bounded_body(SETTINGS_FIELDS)
    integration.update_settings(dbs(), data, actor=actor())
    dbs().commit()
    return jsonify(_settings_view())


@bp.post("/integration/bypass-link")
@require_role(Role.superuser)
def rotate_bypass_link() -> ResponseReturnValue:
    """Make a new bypass link (the old one stops working) and return it."""
    bounded_body(set(), optional=True)
    integration.rotate_bypass_secret(dbs(), actor=actor())
    dbs().commit()
    return jsonify(_settings_view())


@bp.get("/integration/users.csv")
@require_role(Role.superuser)
def export_users_csv() -> ResponseReturnValue:
    """Every account linked to the provider and what a reset will do to it, as CSV."""
    body = reset.affected_to_csv(reset.affected_accounts(dbs()))
    return csv_download(body, "integration-users.csv")


@bp.get("/integration/users.json")
@require_role(Role.superuser)
def export_users_json() -> ResponseReturnValue:
    """The same export as JSON."""
    rows = reset.affected_accounts(dbs())
    return jsonify(items=[row.as_dict() for row in rows], total=len(rows))


@bp.post("/integration/reset")
@require_role(Role.superuser)
def reset_integration() -> ResponseReturnValue:
    """Remove the integration and every user mapping; needs ``{"confirm": "<name>"}``."""
    data = bounded_body({"confirm"}, required={"confirm"})
    outcome = reset.reset_integration(dbs(), actor=actor(), confirm=data["confirm"])
    dbs().commit()
    return jsonify(
        deleted=outcome.deleted,
        unlinked=outcome.unlinked,
        disabled=outcome.disabled,
        identities_removed=outcome.identities_removed,
        groups_removed=outcome.groups_removed,
        tokens_revoked=outcome.tokens_revoked,
    )


@bp.get("/integration/sync")
@require_role(Role.administrator)
def sync_status() -> ResponseReturnValue:
    """The settings-sync status and the newest outbox entries (pending, synced, failed)."""
    row = integration.get_settings(dbs())
    entries = settings_sync.list_entries(dbs())
    return jsonify(
        sync_status=row.sync_status.value,
        revision=row.revision,
        entries=[settings_sync.entry_to_dict(e) for e in entries],
    )


@bp.post("/integration/provider-settings")
def provider_settings() -> ResponseReturnValue:
    """Settings changed on the provider's side, pushed to us with a SCIM bearer token.

    Applied under the same rules as a PATCH (409 naming the rule), audited with the
    token's name as actor, and not pushed back.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    token = (
        tokens.verify_token(dbs(), presented.strip())
        if scheme.lower() == "bearer" and presented.strip()
        else None
    )
    if token is None:
        response = jsonify(error="unauthenticated", detail="a valid SCIM bearer token is required")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    data = bounded_body(set(integration.EDITABLE))
    integration.apply_provider_settings(dbs(), data, actor=f"scim:{token.name}")
    tokens.touch_token(token)
    dbs().commit()
    view = integration.read_settings(dbs()).as_dict()
    return jsonify(view)


def _ensure_installed_once(app: Flask) -> None:
    """Add the integration at the first request when an OIDC provider is configured."""
    if app.extensions.get("uniview_install_checked"):
        return
    app.extensions["uniview_install_checked"] = True
    try:
        changed = integration.ensure_installed(
            dbs(), provider_configured=bool(app.config.get("OIDC_ISSUER"))
        )
        dbs().commit()
    except IntegrityError:
        # Another replica created the row at the same moment; it did the work.
        dbs().rollback()
        return
    if changed:
        logger.info(
            "integration added: unified login on (OIDC provider %s)", app.config.get("OIDC_ISSUER")
        )


@bp.record_once
def _register_install_check(state: BlueprintSetupState) -> None:
    app = cast("Flask", state.app)

    @app.before_request
    def _install_check() -> None:
        _ensure_installed_once(app)
