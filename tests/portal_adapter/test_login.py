"""The login decision without HTTP: link, JIT, refuse, groups claim, rate-limit windows."""

from __future__ import annotations

import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal_adapter import integration
from portal_adapter import login
from portal_adapter.integration import get_settings
from portal_adapter.login import LoginRefused
from portal_adapter.login import ProviderClaims
from portal_adapter.models import Account
from portal_adapter.models import AccountStatus
from portal_adapter.models import Group
from portal_adapter.models import GroupMembership
from portal_adapter.models import GroupSource
from portal_adapter.models import LoginAttempt
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import Role
from portal_adapter.models import utcnow
from portal_adapter.passwords import hash_password


def claims(groups: tuple[str, ...] | None = None, subject: str = "sub-1") -> ProviderClaims:
    return ProviderClaims(
        subject=subject,
        username="carol",
        email="carol@example.com",
        display_name="Carol",
        groups=groups,
    )


def settings(session: Session, **values: object) -> None:
    row = get_settings(session)
    row.installed = True
    for key, value in values.items():
        setattr(row, key, value)
    session.flush()


def test_claims_are_read_with_the_configured_names() -> None:
    picked = login.claims_to_provider_claims(
        {"sub": "s", "upn": "dave", "mail": "d@example.com", "roles": ["a", "b"], "name": "D"},
        username_claim="upn",
        email_claim="mail",
        groups_claim="roles",
    )
    assert picked == ProviderClaims("s", "dave", "d@example.com", "D", ("a", "b"))


def test_an_absent_groups_claim_is_none_and_an_empty_one_is_empty() -> None:
    absent = login.claims_to_provider_claims(
        {"sub": "s"}, username_claim="u", email_claim="e", groups_claim="groups"
    )
    empty = login.claims_to_provider_claims(
        {"sub": "s", "groups": []}, username_claim="u", email_claim="e", groups_claim="groups"
    )
    assert absent.groups is None
    assert empty.groups == ()


def test_a_new_user_gets_an_account_with_the_default_role(session: Session) -> None:
    settings(session, unified_login=True, auto_create_users=True, default_role=Role.technician)
    account = login.decide_provider_login(session, claims(), actor="test")
    assert account.username == "carol"
    assert account.role is Role.technician


def test_with_creation_off_a_new_user_is_kept_pending_and_refused(session: Session) -> None:
    settings(session, unified_login=True, auto_create_users=False)
    with pytest.raises(LoginRefused) as refused:
        login.decide_provider_login(session, claims(), actor="test")
    assert refused.value.reason == "pending"
    identity = session.scalar(
        select(ProviderIdentity).where(ProviderIdentity.external_id == "sub-1")
    )
    assert identity is not None and identity.account_id is None


def test_unified_login_off_refuses_every_provider_login(session: Session) -> None:
    settings(session, unified_login=False)
    with pytest.raises(LoginRefused) as refused:
        login.decide_provider_login(session, claims(), actor="test")
    assert refused.value.reason == "unified_login_off"


def test_an_identity_deactivated_at_the_provider_is_refused(session: Session) -> None:
    settings(session, unified_login=True, auto_create_users=True)
    account = login.decide_provider_login(session, claims(), actor="test")
    identity = session.scalar(
        select(ProviderIdentity).where(ProviderIdentity.account_id == account.id)
    )
    assert identity is not None
    identity.active = False
    session.flush()
    with pytest.raises(LoginRefused) as refused:
        login.decide_provider_login(session, claims(), actor="test")
    assert refused.value.reason == "disabled"


def test_the_groups_claim_refreshes_provider_groups_at_each_login(session: Session) -> None:
    settings(session, unified_login=True, auto_create_users=True, access_groups=True)
    for name in ("Techs", "Billing"):
        session.add(
            Group(display_name=name, display_name_ci=name.casefold(), source=GroupSource.provider)
        )
    session.flush()
    account = login.decide_provider_login(session, claims(groups=("Techs",)), actor="test")
    assert member_groups(session, account) == ["Techs"]
    login.decide_provider_login(session, claims(groups=("Billing",)), actor="test")
    assert member_groups(session, account) == ["Billing"]
    login.decide_provider_login(session, claims(groups=None), actor="test")
    assert member_groups(session, account) == ["Billing"]  # an absent claim changes nothing


def member_groups(session: Session, account: Account) -> list[str]:
    identity_id = session.scalar(
        select(ProviderIdentity.id).where(ProviderIdentity.account_id == account.id)
    )
    return sorted(
        session.scalars(
            select(Group.display_name)
            .join(GroupMembership, GroupMembership.group_id == Group.id)
            .where(GroupMembership.identity_id == identity_id)
        )
    )


def test_a_local_password_is_checked_before_anything_else_is_revealed(session: Session) -> None:
    settings(session, unified_login=True, require_sso=True)
    session.add(
        Account(
            username="erin",
            username_ci="erin",
            password_hash=hash_password("pw-erin-123456"),
            status=AccountStatus.disabled,
        )
    )
    session.flush()
    with pytest.raises(LoginRefused) as wrong:
        login.authenticate_local(session, "erin", "nope", via_bypass=False, actor="t")
    assert wrong.value.reason == "invalid_credentials"
    with pytest.raises(LoginRefused) as sso:
        login.authenticate_local(session, "erin", "pw-erin-123456", via_bypass=False, actor="t")
    assert sso.value.reason == "sso_required"
    with pytest.raises(LoginRefused) as disabled:
        login.authenticate_local(session, "erin", "pw-erin-123456", via_bypass=True, actor="t")
    assert disabled.value.reason == "disabled"


def test_an_account_without_a_local_password_cannot_log_in_locally(session: Session) -> None:
    session.add(Account(username="frank", username_ci="frank"))
    session.flush()
    with pytest.raises(LoginRefused) as refused:
        login.authenticate_local(session, "frank", "", via_bypass=False, actor="t")
    assert refused.value.reason == "invalid_credentials"


def test_the_rate_limit_counts_only_attempts_inside_the_window(session: Session) -> None:
    window = datetime.timedelta(seconds=300)
    old = utcnow() - datetime.timedelta(seconds=400)
    session.add_all([LoginAttempt(key="user:x", at=old) for _ in range(5)])
    session.flush()
    assert login.retry_after(session, ["user:x"], limit=5, window=window) is None
    for _ in range(5):
        login.record_attempt(session, ["user:x"], window=window)
    wait = login.retry_after(session, ["user:x", "addr:y"], limit=5, window=window)
    assert wait is not None and 290 <= wait <= 301
    # Recording also forgot the attempts that had left the window.
    assert len(list(session.scalars(select(LoginAttempt)))) == 5


def test_the_bypass_secret_is_compared_exactly(session: Session) -> None:
    assert not login.is_bypass_secret(session, "")
    secret = integration.rotate_bypass_secret(session, actor="test")
    assert login.is_bypass_secret(session, secret)
    assert not login.is_bypass_secret(session, secret[:-1])
    assert not login.is_bypass_secret(session, secret + "x")
