"""The integration settings and their rules (DESIGN.md product rules 1, 2, 7).

Settings are one row (:class:`~portal_adapter.models.IntegrationSettings`). Every reader
goes through :func:`read_settings`, which applies rule 1 (unified login off => every
other toggle reads off); every writer goes through :func:`update_settings` (a portal
change, pushed to the provider) or :func:`apply_provider_settings` (a provider change,
not pushed back), which check the rules, bump ``revision`` and audit before/after.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal_adapter import audit
from portal_adapter import settings_sync
from portal_adapter.errors import InvalidInput
from portal_adapter.errors import RuleViolation
from portal_adapter.models import Account
from portal_adapter.models import AccountStatus
from portal_adapter.models import DeprovisionAction
from portal_adapter.models import IntegrationSettings
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import Role
from portal_adapter.models import SyncStatus
from portal_adapter.models import utcnow

SETTINGS_ID = 1

TOGGLES = ("require_sso", "auto_create_users", "auto_deprovision", "access_groups")
"""The toggles that depend on unified login (rule 1)."""

EDITABLE = (
    "unified_login",
    "require_sso",
    "sso_exceptions",
    "auto_create_users",
    "default_role",
    "auto_deprovision",
    "deprovision_action",
    "access_groups",
)
"""Every setting a superuser (or the provider) may change, in the order they are applied."""

READ_ONLY = ("revision", "sync_status")

MAX_SSO_EXCEPTIONS = 500
MAX_USERNAME_LENGTH = 255

RULE_UNIFIED_LOGIN = "unified login must be on to use any other integration setting"
RULE_DEFAULT_ROLE = "superuser is never a default role"
DEFAULT_ROLE_CHOICES = tuple(role for role in Role if role is not Role.superuser)
"""The roles an administrator may pick as the default (``RULE_DEFAULT_ROLE``)."""
RULE_REQUIRE_SSO = (
    "require SSO needs at least one superuser who can still log in "
    "(linked to the provider, or an SSO exception with a local password)"
)


def get_settings(session: Session) -> IntegrationSettings:
    """Return the settings row, creating it with the defaults on first use."""
    settings = session.get(IntegrationSettings, SETTINGS_ID)
    if settings is None:
        settings = IntegrationSettings(id=SETTINGS_ID)
        session.add(settings)
        session.flush()
    return settings


@dataclass(frozen=True)
class EffectiveSettings:
    """The settings as every rule reads them: toggles are off while unified login is off."""

    installed: bool
    unified_login: bool
    require_sso: bool
    sso_exceptions: tuple[str, ...]
    auto_create_users: bool
    default_role: Role
    auto_deprovision: bool
    deprovision_action: DeprovisionAction
    access_groups: bool
    revision: int
    sync_status: SyncStatus

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON-ready view the API, the CLI and the outbox use."""
        return {
            "unified_login": self.unified_login,
            "require_sso": self.require_sso,
            "sso_exceptions": list(self.sso_exceptions),
            "auto_create_users": self.auto_create_users,
            "default_role": self.default_role.value,
            "auto_deprovision": self.auto_deprovision,
            "deprovision_action": self.deprovision_action.value,
            "access_groups": self.access_groups,
            "revision": self.revision,
            "sync_status": self.sync_status.value,
        }


def read_settings(session: Session) -> EffectiveSettings:
    """Return the effective settings (rule 1 applied)."""
    row = get_settings(session)
    on = bool(row.unified_login)
    return EffectiveSettings(
        installed=bool(row.installed),
        unified_login=on,
        require_sso=on and bool(row.require_sso),
        sso_exceptions=tuple(row.sso_exceptions or ()),
        auto_create_users=on and bool(row.auto_create_users),
        default_role=Role(row.default_role),
        auto_deprovision=on and bool(row.auto_deprovision),
        deprovision_action=DeprovisionAction(row.deprovision_action),
        access_groups=on and bool(row.access_groups),
        revision=row.revision,
        sync_status=SyncStatus(row.sync_status),
    )


@dataclass(frozen=True)
class SettingsChange:
    """What an update did: the changed keys with their values before and after."""

    before: dict[str, Any]
    after: dict[str, Any]
    revision: int

    @property
    def changed(self) -> bool:
        """Whether anything changed."""
        return bool(self.after)


def parse_setting(key: str, value: Any) -> Any:
    """Check one setting's value and return it in its stored type.

    Strings are accepted for booleans and lists so the CLI (``KEY=VALUE``) shares
    these rules with the JSON API, which sends real booleans and lists.

    :raises InvalidInput: When the key is unknown or the value has the wrong type.
    """
    if key in READ_ONLY:
        raise InvalidInput(f"{key} is read-only")
    if key not in EDITABLE:
        raise InvalidInput(f"unknown setting: {key}")
    if key in ("unified_login", *TOGGLES):
        return _parse_bool(key, value)
    if key == "sso_exceptions":
        return _parse_usernames(value)
    if key == "default_role":
        if not isinstance(value, str) or value not in Role.__members__:
            raise InvalidInput(f"default_role must be one of {', '.join(Role)}")
        return Role(value)
    if not isinstance(value, str) or value not in DeprovisionAction.__members__:
        raise InvalidInput(f"deprovision_action must be one of {', '.join(DeprovisionAction)}")
    return DeprovisionAction(value)


def _parse_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "on", "yes", "1"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "off", "no", "0"):
        return False
    raise InvalidInput(f"{key} must be true or false")


def _parse_usernames(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [part for part in (p.strip() for p in value.split(",")) if part]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput("sso_exceptions must be a list of usernames")
    if len(value) > MAX_SSO_EXCEPTIONS:
        raise InvalidInput(f"sso_exceptions holds at most {MAX_SSO_EXCEPTIONS} usernames")
    names: list[str] = []
    for raw in value:
        name = raw.strip().casefold()
        if not name or len(name) > MAX_USERNAME_LENGTH:
            raise InvalidInput("sso_exceptions holds non-empty usernames of at most 255 characters")
        if name not in names:
            names.append(name)
    return sorted(names)


def _stored_value(row: IntegrationSettings, key: str) -> Any:
    value = getattr(row, key)
    if key == "sso_exceptions":
        return sorted(value or [])
    return value


def _jsonable(value: Any) -> Any:
    return value.value if isinstance(value, Role | DeprovisionAction) else value


def _apply(
    session: Session, changes: Mapping[str, Any], *, actor: str, action: str
) -> SettingsChange:
    """Check ``changes`` against every rule, write them, audit them; no push decision here."""
    parsed = {key: parse_setting(key, value) for key, value in changes.items()}
    get_settings(session)
    # Lock the row (PostgreSQL): two concurrent changes must not both read revision n.
    row = session.get(
        IntegrationSettings, SETTINGS_ID, with_for_update=True, populate_existing=True
    )
    assert row is not None  # get_settings just made sure it exists
    before_effective = read_settings(session)
    target_on = parsed.get("unified_login", row.unified_login)
    if not target_on:
        attempted = sorted(
            key
            for key, value in parsed.items()
            if key != "unified_login" and value != _effective_value(before_effective, key)
        )
        if attempted:
            raise RuleViolation(
                f"{RULE_UNIFIED_LOGIN}: turn unified_login on before changing "
                f"{', '.join(attempted)}"
            )
    if "default_role" in parsed and parsed["default_role"] not in DEFAULT_ROLE_CHOICES:
        raise RuleViolation(RULE_DEFAULT_ROLE)

    # Work out the whole target state first, so a refused change writes nothing at all.
    target: dict[str, Any] = {}
    if "unified_login" in parsed:
        target["unified_login"] = parsed["unified_login"]
        if not parsed["unified_login"]:
            # Rule 1: turning unified login off turns every other toggle off; mappings stay.
            target.update(dict.fromkeys(TOGGLES, False))
    for key in EDITABLE[1:]:
        if key in parsed:
            target[key] = parsed[key]
    before = {
        key: _jsonable(_stored_value(row, key))
        for key, value in target.items()
        if _stored_value(row, key) != value
    }
    after = {key: _jsonable(target[key]) for key in before}
    if not after:
        return SettingsChange(before={}, after={}, revision=row.revision)
    require_sso = target.get("require_sso", row.require_sso) and target_on
    exceptions = target.get("sso_exceptions", row.sso_exceptions or [])
    guarded = "require_sso" in after or "sso_exceptions" in after
    if (
        guarded
        and require_sso
        and not superuser_can_still_log_in(session, exceptions=exceptions, unified_login=True)
    ):
        raise RuleViolation(f"{RULE_REQUIRE_SSO}; refused")

    for key in before:
        setattr(row, key, target[key])
    if target.get("unified_login"):
        row.installed = True
    row.revision += 1
    row.updated_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action=action,
        target="integration:settings",
        before=before,
        after={**after, "revision": row.revision},
    )
    _notify_access_groups(session, before_effective.access_groups, actor=actor)
    session.flush()
    return SettingsChange(before=before, after=after, revision=row.revision)


def _effective_value(settings: EffectiveSettings, key: str) -> Any:
    value = getattr(settings, key)
    return list(value) if key == "sso_exceptions" else value


def _notify_access_groups(session: Session, was_on: bool, *, actor: str) -> None:
    """Tell the access-groups module when the effective toggle flips (its provider groups
    become manual groups in place when it turns off)."""
    # Imported here: access reads these settings, so a module-level import would be circular.
    from portal_adapter import access

    now_on = read_settings(session).access_groups
    if now_on and not was_on:
        access.on_access_groups_enabled(session, actor=actor)
    elif was_on and not now_on:
        access.on_access_groups_disabled(session, actor=actor)


def update_settings(session: Session, changes: Mapping[str, Any], *, actor: str) -> SettingsChange:
    """Apply a portal-side change under every rule; queue it for the provider (rule 7).

    :raises InvalidInput: When a key is unknown or read-only, or a value has the wrong type.
    :raises RuleViolation: When a product rule forbids the change (the detail names it).
    """
    change = _apply(session, changes, actor=actor, action="integration.update")
    if change.changed:
        settings_sync.enqueue(session, get_settings(session), read_settings(session).as_dict())
    return change


def apply_provider_settings(
    session: Session, changes: Mapping[str, Any], *, actor: str
) -> SettingsChange:
    """Apply a change made on the provider's side, under the same rules; not pushed back.

    Older portal changes still waiting in the outbox are superseded: pushing them now
    would undo the provider's newer change.

    :raises InvalidInput: When a key is unknown or read-only, or a value has the wrong type.
    :raises RuleViolation: When a product rule forbids the change.
    """
    change = _apply(session, changes, actor=actor, action="integration.update_from_provider")
    if change.changed:
        settings_sync.supersede_pending(session, get_settings(session))
    return change


def ensure_installed(session: Session, *, provider_configured: bool) -> bool:
    """On a fresh install with an OIDC provider configured, add the integration.

    Adding the integration turns unified login on; every other toggle stays off and
    ``default_role`` is ``read_only``. A reset integration (revision > 0) is not
    re-added behind the superuser's back. Return whether anything changed.
    """
    row = get_settings(session)
    if not provider_configured or row.installed or row.revision > 0:
        return False
    row.installed = True
    row.unified_login = True
    row.revision = 1
    audit.record(
        session,
        actor="system",
        action="integration.install",
        target="integration:settings",
        after={"unified_login": True, "revision": 1},
    )
    session.flush()
    return True


def superuser_can_still_log_in(
    session: Session,
    *,
    exceptions: list[str] | None = None,
    unified_login: bool | None = None,
) -> bool:
    """Tell whether some active superuser could log in with require SSO on.

    Either linked to an active provider identity (logs in over SSO), or an SSO
    exception holding a local password. ``exceptions`` and ``unified_login`` default
    to the stored settings; a pending change passes the values it would write.
    """
    row = get_settings(session)
    if exceptions is None:
        exceptions = list(row.sso_exceptions or [])
    if unified_login is None:
        unified_login = bool(row.unified_login)
    superusers = list(
        session.scalars(
            select(Account).where(
                Account.role == Role.superuser, Account.status == AccountStatus.active
            )
        )
    )
    if not superusers:
        return False
    allowed = set(exceptions)
    if any(a.username_ci in allowed and a.has_local_password for a in superusers):
        return True
    if not unified_login:
        return False
    linked = session.scalar(
        select(ProviderIdentity.id).where(
            ProviderIdentity.account_id.in_([a.id for a in superusers]),
            ProviderIdentity.active.is_(True),
        )
    )
    return linked is not None


def is_local_login_allowed(session: Session, account: Account, *, via_bypass: bool) -> bool:
    """Tell whether ``account`` may log in with its local password (rule 2).

    Always while require SSO is off; with it on, only SSO exceptions and whoever came
    through the bypass link. The caller still checks the password and ``is_active``.
    """
    settings = read_settings(session)
    if not settings.require_sso or via_bypass:
        return True
    return account.username_ci in settings.sso_exceptions


def rotate_bypass_secret(session: Session, *, actor: str) -> str:
    """Replace the bypass link's secret (the old link stops working) and return it."""
    row = get_settings(session)
    row.bypass_secret = secrets.token_urlsafe(24)
    audit.record(
        session, actor=actor, action="integration.bypass_rotate", target="integration:settings"
    )
    session.flush()
    return row.bypass_secret
