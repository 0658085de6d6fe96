"""Accounts and roles: who may manage whom, the last superuser, validation; without HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal_adapter import accounts
from portal_adapter import sessions
from portal_adapter.errors import Conflict
from portal_adapter.errors import Forbidden
from portal_adapter.errors import InvalidInput
from portal_adapter.models import AccountSource
from portal_adapter.models import AccountStatus
from portal_adapter.models import AuditEvent
from portal_adapter.models import LoginSession
from portal_adapter.models import Role
from tests.portal_adapter.test_provisioning_builders import STRONG
from tests.portal_adapter.test_provisioning_builders import add_account


def test_usernames_are_unique_regardless_of_case(session: Session) -> None:
    accounts.create_account(session, username="Alice", actor="cli")
    with pytest.raises(Conflict):
        accounts.create_account(session, username="ALICE", actor="cli")


def test_a_local_password_is_hashed_and_weak_ones_are_refused(session: Session) -> None:
    account = accounts.create_account(session, username="bob", actor="cli", password=STRONG)
    assert account.password_hash is not None and STRONG not in account.password_hash
    with pytest.raises(InvalidInput):
        accounts.create_account(session, username="bob2", actor="cli", password="short")


def test_only_a_superuser_changes_roles(session: Session) -> None:
    admin = add_account(session, "admin", role=Role.administrator)
    root = add_account(session, "root", role=Role.superuser)
    target = add_account(session, "tech", role=Role.technician)
    with pytest.raises(Forbidden):
        accounts.update_account(session, target, {"role": "administrator"}, actor="a", by=admin)
    accounts.update_account(session, target, {"role": "administrator"}, actor="r", by=root)
    assert target.role is Role.administrator


def test_administrators_manage_non_superuser_accounts_only(session: Session) -> None:
    admin = add_account(session, "admin", role=Role.administrator)
    root = add_account(session, "root", role=Role.superuser)
    other_root = add_account(session, "root2", role=Role.superuser)
    user = add_account(session, "user")
    accounts.update_account(session, user, {"email": "u@example.org"}, actor="a", by=admin)
    with pytest.raises(Forbidden):
        accounts.update_account(
            session, other_root, {"email": "x@example.org"}, actor="a", by=admin
        )
    accounts.update_account(session, other_root, {"email": "x@example.org"}, actor="r", by=root)
    assert other_root.email == "x@example.org"


def test_roles_below_administrator_manage_no_account(session: Session) -> None:
    tech = add_account(session, "tech", role=Role.technician)
    user = add_account(session, "user")
    with pytest.raises(Forbidden):
        accounts.update_account(session, user, {"email": "u@example.org"}, actor="t", by=tech)


def test_an_administrator_cannot_create_an_account_above_read_only(session: Session) -> None:
    admin = add_account(session, "admin", role=Role.administrator)
    with pytest.raises(Forbidden):
        accounts.create_account(session, username="x", actor="a", by=admin, role="technician")


def test_the_last_active_superuser_is_never_disabled_demoted_or_deleted(session: Session) -> None:
    root = add_account(session, "root", role=Role.superuser)
    with pytest.raises(Conflict):
        accounts.disable_account(session, root, actor="cli", reason="x")
    with pytest.raises(Conflict):
        accounts.update_account(session, root, {"role": "administrator"}, actor="cli", by=root)
    with pytest.raises(Conflict):
        accounts.delete_account(session, root, actor="cli", reason="x")
    assert root.status is AccountStatus.active and root.role is Role.superuser


def test_disabling_an_account_ends_its_sessions_at_once(session: Session) -> None:
    user = add_account(session, "user")
    sessions.open_session(session, user, method="local")
    assert accounts.disable_account(session, user, actor="cli", reason="left") is True
    live = session.scalars(
        select(LoginSession).where(
            LoginSession.account_id == user.id, LoginSession.ended_at.is_(None)
        )
    )
    assert list(live) == []
    assert accounts.disable_account(session, user, actor="cli", reason="again") is False


def test_ending_sessions_ends_every_live_one_and_is_audited(session: Session) -> None:
    admin = add_account(session, "admin", role=Role.administrator)
    user = add_account(session, "user")
    for _ in range(2):
        sessions.open_session(session, user, method="local")
    assert accounts.end_sessions(session, user, actor="account:admin", by=admin) == 2
    assert accounts.end_sessions(session, user, actor="account:admin", by=admin) == 0
    assert user.status is AccountStatus.active
    ends = session.scalars(select(AuditEvent).where(AuditEvent.action == "account.sessions_end"))
    assert [event.after for event in ends] == [{"sessions_ended": 2}, {"sessions_ended": 0}]


@pytest.mark.parametrize("action", ["end_sessions", "disable_account", "enable_account"])
def test_an_administrator_cannot_end_disable_or_enable_a_superuser(
    session: Session, action: str
) -> None:
    admin = add_account(session, "admin", role=Role.administrator)
    root = add_account(session, "root", role=Role.superuser)
    add_account(session, "root2", role=Role.superuser)
    sessions.open_session(session, root, method="local")
    extra: dict[str, Any] = {"reason": "x"} if action == "disable_account" else {}
    with pytest.raises(Forbidden):
        getattr(accounts, action)(session, root, actor="account:admin", by=admin, **extra)
    assert root.status is AccountStatus.active
    assert sessions.end_sessions_of(session, root.id) == 1


def test_clearing_the_provider_flag_is_the_only_flag_change(session: Session) -> None:
    user = add_account(session, "user", deactivated_at_provider=True)
    accounts.update_account(session, user, {"flag": False}, actor="cli", by=None)
    assert user.deactivated_at_provider is False
    with pytest.raises(InvalidInput):
        accounts.update_account(session, user, {"flag": True}, actor="cli", by=None)


@pytest.mark.parametrize(
    "changes",
    [
        {"email": 5},
        {"email": "not-an-email"},
        {"role": "king"},
        {"status": "gone"},
        {"owns_retained_data": "yes"},
        {"display_name": "x" * 300},
        {"username": "renamed"},
    ],
)
def test_bad_account_changes_are_refused_and_change_nothing(
    session: Session, changes: dict[str, Any]
) -> None:
    user = add_account(session, "user")
    with pytest.raises(InvalidInput):
        accounts.update_account(session, user, changes, actor="cli", by=None)
    assert (user.email, user.role, user.status) == (
        "user@example.com",
        Role.read_only,
        AccountStatus.active,
    )


def test_a_password_change_is_audited_without_the_password(session: Session) -> None:
    user = add_account(session, "user")
    accounts.update_account(session, user, {"password": STRONG}, actor="cli", by=None)
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "account.update"))
    assert event is not None and event.after is not None
    assert event.after["password_changed"] is True
    assert STRONG not in str(event.before) + str(event.after)


def test_listing_filters_by_text_role_status_and_flag(session: Session) -> None:
    add_account(session, "anna", role=Role.technician)
    add_account(session, "bert", deactivated_at_provider=True)
    add_account(session, "carl", status=AccountStatus.disabled)
    assert [a.username for a in accounts.list_accounts(session, query="ANN").items] == ["anna"]
    assert accounts.list_accounts(session, role=Role.technician).total == 1
    assert [a.username for a in accounts.list_accounts(session, flagged=True).items] == ["bert"]
    add_account(session, "dora", source=AccountSource.provider)
    by_source = accounts.list_accounts(session, source=AccountSource.provider).items
    assert [a.username for a in by_source] == ["dora"]
    page = accounts.list_accounts(session, status=AccountStatus.active, offset=1, limit=1)
    assert (page.total, [a.username for a in page.items]) == (3, ["bert"])
