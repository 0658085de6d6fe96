"""Integration settings rules (DESIGN.md rules 1, 2, 7), without HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal_adapter import integration
from portal_adapter.errors import InvalidInput
from portal_adapter.errors import RuleViolation
from portal_adapter.models import AuditEvent
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import Role
from tests.portal_adapter.test_provisioning_builders import STRONG
from tests.portal_adapter.test_provisioning_builders import add_account
from tests.portal_adapter.test_provisioning_builders import add_identity
from tests.portal_adapter.test_provisioning_builders import configure

DEPENDENT_CHANGES: list[tuple[str, Any]] = [
    ("require_sso", True),
    ("sso_exceptions", ["root"]),
    ("auto_create_users", True),
    ("default_role", "technician"),
    ("auto_deprovision", True),
    ("deprovision_action", "delete"),
    ("access_groups", True),
]


def test_unified_login_off_makes_every_other_toggle_read_off(session: Session) -> None:
    row = integration.get_settings(session)
    row.require_sso = row.auto_create_users = row.auto_deprovision = row.access_groups = True
    row.unified_login = False
    settings = integration.read_settings(session)
    assert (settings.require_sso, settings.auto_create_users) == (False, False)
    assert (settings.auto_deprovision, settings.access_groups) == (False, False)


@pytest.mark.parametrize(("key", "value"), DEPENDENT_CHANGES)
def test_changing_any_setting_while_unified_login_is_off_is_refused_naming_the_rule(
    session: Session, key: str, value: Any
) -> None:
    with pytest.raises(RuleViolation) as refused:
        integration.update_settings(session, {key: value}, actor="test")
    assert integration.RULE_UNIFIED_LOGIN in refused.value.detail
    assert key in refused.value.detail
    assert integration.get_settings(session).revision == 0


def test_turning_unified_login_off_turns_the_others_off_and_keeps_user_mappings(
    session: Session,
) -> None:
    account = add_account(session, "carol")
    identity = add_identity(session, "carol", account=account)
    configure(session, auto_create_users=True, auto_deprovision=True, access_groups=True)
    integration.update_settings(session, {"unified_login": False}, actor="test")
    row = integration.get_settings(session)
    assert (row.auto_create_users, row.auto_deprovision, row.access_groups) == (False,) * 3
    assert session.get(ProviderIdentity, identity.id).account_id == account.id


def test_turning_unified_login_back_on_lets_the_others_be_enabled_again(session: Session) -> None:
    configure(session, auto_create_users=True)
    integration.update_settings(session, {"unified_login": False}, actor="test")
    assert integration.read_settings(session).auto_create_users is False
    configure(session, auto_create_users=True)
    assert integration.read_settings(session).auto_create_users is True


def test_unified_login_and_a_dependent_toggle_can_be_turned_on_in_one_change(
    session: Session,
) -> None:
    integration.update_settings(
        session, {"unified_login": True, "auto_create_users": True}, actor="test"
    )
    assert integration.read_settings(session).auto_create_users is True


def test_default_role_can_never_be_superuser(session: Session) -> None:
    configure(session)
    with pytest.raises(RuleViolation) as refused:
        integration.update_settings(session, {"default_role": "superuser"}, actor="test")
    assert integration.RULE_DEFAULT_ROLE in refused.value.detail
    assert integration.read_settings(session).default_role is Role.read_only


def test_require_sso_is_refused_when_no_superuser_could_still_log_in(session: Session) -> None:
    add_account(session, "root", role=Role.superuser, password=STRONG)
    configure(session)
    with pytest.raises(RuleViolation) as refused:
        integration.update_settings(session, {"require_sso": True}, actor="test")
    assert "require SSO needs at least one superuser" in refused.value.detail
    assert integration.read_settings(session).require_sso is False


def test_require_sso_is_allowed_with_a_superuser_linked_to_the_provider(session: Session) -> None:
    root = add_account(session, "root", role=Role.superuser)
    add_identity(session, "root", account=root)
    configure(session, require_sso=True)
    assert integration.read_settings(session).require_sso is True


def test_require_sso_is_allowed_with_a_superuser_exception_holding_a_local_password(
    session: Session,
) -> None:
    add_account(session, "Root", role=Role.superuser, password=STRONG)
    configure(session, require_sso=True, sso_exceptions=["ROOT"])
    assert integration.read_settings(session).sso_exceptions == ("root",)


def test_an_exception_without_a_local_password_does_not_count_for_require_sso(
    session: Session,
) -> None:
    add_account(session, "root", role=Role.superuser)
    configure(session)
    with pytest.raises(RuleViolation):
        integration.update_settings(
            session, {"require_sso": True, "sso_exceptions": ["root"]}, actor="test"
        )


def test_removing_the_last_superuser_exception_under_require_sso_is_refused(
    session: Session,
) -> None:
    add_account(session, "root", role=Role.superuser, password=STRONG)
    configure(session, require_sso=True, sso_exceptions=["root"])
    with pytest.raises(RuleViolation):
        integration.update_settings(session, {"sso_exceptions": []}, actor="test")


def test_every_change_bumps_the_revision_and_is_audited_with_before_and_after(
    session: Session,
) -> None:
    configure(session)
    revision = integration.get_settings(session).revision
    integration.update_settings(
        session, {"auto_create_users": True, "default_role": "technician"}, actor="account:root"
    )
    assert integration.get_settings(session).revision == revision + 1
    event = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "integration.update")
        .order_by(AuditEvent.id.desc())
    ).first()
    assert event is not None
    assert event.actor == "account:root"
    assert event.before == {"auto_create_users": False, "default_role": "read_only"}
    assert event.after == {
        "auto_create_users": True,
        "default_role": "technician",
        "revision": revision + 1,
    }


def test_a_change_that_changes_nothing_keeps_the_revision(session: Session) -> None:
    configure(session)
    revision = integration.get_settings(session).revision
    change = integration.update_settings(session, {"unified_login": True}, actor="test")
    assert change.changed is False
    assert integration.get_settings(session).revision == revision


def test_a_fresh_install_with_a_provider_has_unified_login_on_and_everything_else_off(
    session: Session,
) -> None:
    assert integration.ensure_installed(session, provider_configured=True) is True
    settings = integration.read_settings(session)
    assert settings.installed and settings.unified_login
    assert not (settings.require_sso or settings.auto_create_users)
    assert not (settings.auto_deprovision or settings.access_groups)
    assert settings.default_role is Role.read_only


def test_a_fresh_install_without_a_provider_keeps_unified_login_off(session: Session) -> None:
    assert integration.ensure_installed(session, provider_configured=False) is False
    assert integration.read_settings(session).unified_login is False


def test_an_integration_turned_off_by_a_superuser_is_not_turned_back_on_at_start(
    session: Session,
) -> None:
    integration.ensure_installed(session, provider_configured=True)
    integration.update_settings(session, {"unified_login": False}, actor="test")
    row = integration.get_settings(session)
    row.installed = False
    assert integration.ensure_installed(session, provider_configured=True) is False
    assert integration.read_settings(session).unified_login is False


def test_local_login_under_require_sso_is_only_for_exceptions_and_the_bypass_link(
    session: Session,
) -> None:
    root = add_account(session, "root", role=Role.superuser, password=STRONG)
    tech = add_account(session, "tech", role=Role.technician, password=STRONG)
    assert integration.is_local_login_allowed(session, tech, via_bypass=False) is True
    configure(session, require_sso=True, sso_exceptions=["root"])
    assert integration.is_local_login_allowed(session, root, via_bypass=False) is True
    assert integration.is_local_login_allowed(session, tech, via_bypass=False) is False
    assert integration.is_local_login_allowed(session, tech, via_bypass=True) is True


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"unified_login": "maybe"}, "unified_login must be true or false"),
        ({"unified_login": 1}, "unified_login must be true or false"),
        ({"sso_exceptions": "x" * 300}, "at most 255 characters"),
        ({"sso_exceptions": [1, 2]}, "list of usernames"),
        ({"default_role": "king"}, "default_role must be one of"),
        ({"deprovision_action": None}, "deprovision_action must be one of"),
        ({"revision": 5}, "revision is read-only"),
        ({"colour": "blue"}, "unknown setting: colour"),
    ],
)
def test_wrong_types_unknown_and_read_only_settings_are_refused(
    session: Session, changes: dict[str, Any], message: str
) -> None:
    configure(session)
    with pytest.raises(InvalidInput) as refused:
        integration.update_settings(session, changes, actor="test")
    assert message in refused.value.detail


def test_a_refused_change_applies_none_of_its_parts(session: Session) -> None:
    configure(session)
    with pytest.raises(RuleViolation):
        integration.update_settings(
            session, {"auto_create_users": True, "default_role": "superuser"}, actor="test"
        )
    assert integration.read_settings(session).auto_create_users is False


def test_the_access_groups_toggle_tells_the_access_module(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    import portal_adapter.access as access

    calls: list[str] = []
    monkeypatch.setattr(
        access, "on_access_groups_enabled", lambda s, *, actor: calls.append("on"), raising=False
    )
    monkeypatch.setattr(
        access, "on_access_groups_disabled", lambda s, *, actor: calls.append("off"), raising=False
    )
    configure(session, access_groups=True)
    integration.update_settings(session, {"unified_login": False}, actor="test")
    assert calls == ["on", "off"]


def test_rotating_the_bypass_secret_replaces_it_and_never_audits_it(session: Session) -> None:
    first = integration.rotate_bypass_secret(session, actor="test")
    second = integration.rotate_bypass_secret(session, actor="test")
    assert first != second and len(second) >= 32
    for event in session.scalars(select(AuditEvent)):
        assert second not in str(event.before) + str(event.after) + str(event.detail)
